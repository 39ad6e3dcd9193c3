package Proc::Prefork::Interp::PeerCreds;

# Issue 12: at accept, what the kernel reports of a caller without races
# (SO_PEERCRED, SO_PEERGROUPS: its credentials when it connected) must be
# this server's own: a call never runs with other groups than its
# caller's (docs/protocol.md, "Credentials: what selects the server").
# Our client has compared already and never gets refused here.

use strict;
use warnings;

use Errno qw(ERANGE ENOPROTOOPT ENOSYS);
use POSIX ();
use Socket qw(SOL_SOCKET SO_PEERCRED);
use Proc::Prefork::Interp::Linux qw(getsockopt_large pidfd_open pidfd_alive);

use constant SO_PEERGROUPS => 59;     # Linux; Socket does not export it
use constant SO_PEERPIDFD  => 77;     # Linux 6.5

# The groups of the peer of $sock, sorted, or undef with $! set.
sub peer_groups {
    my ($sock) = @_;
    my $raw = getsockopt($sock, SOL_SOCKET, SO_PEERGROUPS);
    # More than perl's 256-byte buffer: ask with room for NGROUPS_MAX.
    $raw = getsockopt_large($sock, SOL_SOCKET, SO_PEERGROUPS, 4 * 65536)
        if !defined $raw && $! == ERANGE;
    return undef unless defined $raw;
    return [ sort { $a <=> $b } unpack 'L*', $raw ];
}

my $own;    # [egid, sorted groups]

# ("pid P uid U gid G", P, U, G) of the caller at the other end of
# $sock (SO_PEERCRED, unless the server read them already: @known is
# then its pid, uid and gid), or (one line saying why not).
sub _who {
    my ($sock, @known) = @_;
    my ($pid, $uid, $gid) = @known == 3 ? @known : do {
        my $cred = getsockopt($sock, SOL_SOCKET, SO_PEERCRED);
        $cred ? unpack('iII', $cred) : ();
    };
    return sprintf('cannot read the credentials of the caller: %s', $!)
        unless defined $uid;
    return ("pid $pid uid $uid gid $gid", $pid, $uid, $gid);
}

# undef if the caller at the other end of $sock has this process's
# effective uid, gid and supplementary groups; else one line saying how
# it differs. (@known: see _who.)
sub differ {
    my ($sock, @known) = @_;
    my ($who, $pid, $uid, $gid) = _who($sock, @known);
    return $who unless defined $uid;
    return "$who: another uid (this server runs as uid $>)" if $uid != $>;
    # The server's own do not change once it serves.
    $own //= do {
        my ($egid, @groups) = split ' ', $);
        [$egid, _group_list($egid, @groups)];
    };
    my ($egid, $mine) = @$own;
    return "$who: another gid (this server runs as gid $egid)" if $gid != $egid;
    my $theirs = peer_groups($sock)
        // return "$who: cannot read its groups: $!";
    my $list = _group_list($gid, @$theirs);
    return "$who: groups " . ($list eq '' ? 'none' : $list) . " (this server has "
        . ($mine eq '' ? 'none' : $mine) . ')'
        if $list ne $mine;
    return undef;
}

# undef if the caller at the other end of $sock holds every privilege of
# this server's (see less_privileged); else one line saying what it
# lacks, starting with its pid, uid and gid. (@known: see _who.)
sub lacks {
    my ($sock, @known) = @_;
    my ($who, $pid) = _who($sock, @known);
    return $who unless defined $pid;
    my $less = less_privileged($sock, $pid);
    return defined $less ? "$who: $less" : undef;
}

# The privileges a call would take over from this server, as
# /proc/PID/status shows them: the capability sets (the effective set
# is left out: a process raises it up to its permitted set at will),
# no-new-privs and the seccomp mode.
my @CAP_SETS = ([CapBnd => 'bounding'], [CapPrm => 'permitted'],
                [CapAmb => 'ambient'], [CapInh => 'inheritable']);

sub _privileges {
    my ($status) = @_;
    my %f = $status =~ /^(Cap(?:Bnd|Prm|Amb|Inh)|NoNewPrivs|Seccomp):[ \t]*(\S+)$/mg;
    return undef if grep { !defined $f{$_} } (map { $_->[0] } @CAP_SETS),
        'NoNewPrivs', 'Seccomp';
    return undef if grep { $f{$_->[0]} !~ /\A[0-9a-f]{16}\z/ } @CAP_SETS;
    return \%f;
}

sub _read_status {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return undef;
    local $/;
    my $text = <$fh>;
    return $text;
}

# Whether a capability set (16 hex digits) holds every one of $need's.
sub _holds {
    my ($have, $need) = @_;
    for my $half (0, 8) {
        my ($h, $n) = map { hex substr $_, $half, 8 } $have, $need;
        return 0 if $n & ~$h & 0xffffffff;
    }
    return 1;
}

# The peer's /proc/PID/status text, or (undef, why not).  It counts
# only if the process that connected is still alive once it is read
# (then the pid was still its own).  SO_PEERPIDFD's pidfd names that
# very process however late it is taken, so it is taken after the read:
# one fd at a time, all a server short of fds may have
# (perl/t/16-nofile.t).  Before Linux 6.5 a pidfd is opened for the pid
# and the status read again; without pidfds at all (before Linux 5.3),
# the pid alone is read.
sub _peer_status {
    my ($sock, $pid) = @_;
    my $status = _read_status($pid);
    my $err = $!;
    my $raw = getsockopt($sock, SOL_SOCKET, SO_PEERPIDFD);
    my $pidfd = defined $raw ? unpack('i', $raw) : undef;
    unless (defined $pidfd) {
        return (undef, "cannot hold its process: $!") unless $! == ENOPROTOOPT;
        $pidfd = pidfd_open($pid);
        return (undef, "cannot hold its process: $!")
            unless defined $pidfd || $! == ENOSYS;
        $status = _read_status($pid);
        $err = $!;
    }
    my $alive = defined $pidfd ? pidfd_alive($pidfd) : undef;
    POSIX::close($pidfd) if defined $pidfd;
    return (undef, 'exited before its privileges could be read')
        if defined $alive && !$alive;
    return (undef, "cannot read its privileges: $err") unless defined $status;
    return ($status);
}

my $own_privileges;

# undef if the peer (pid $pid) holds every privilege of this server's,
# else one line saying what it lacks.  Its uid, gid and groups being
# ours, it would otherwise reach, through the call, capabilities it has
# not (a root service with a reduced bounding set, a unit's ambient
# capabilities), or escape its no-new-privs or seccomp filter: the
# server's name is no secret (the run directory lists it, -g takes it).
sub less_privileged {
    my ($sock, $pid) = @_;
    $own_privileges //= _privileges(_read_status('self') // '')
        // return 'cannot read this server\'s own privileges';
    my ($status, $why) = _peer_status($sock, $pid);
    return $why unless defined $status;
    my $theirs = _privileges($status)
        // return 'cannot read its privileges: unexpected /proc status';
    return "runs under a seccomp filter (mode $theirs->{Seccomp}), which "
        . 'cannot be compared with this server\'s'
        if $theirs->{Seccomp} ne '0';
    return 'runs with no-new-privs (this server does not)'
        if $theirs->{NoNewPrivs} ne '0' && $own_privileges->{NoNewPrivs} eq '0';
    for my $set (@CAP_SETS) {
        my ($key, $name) = @$set;
        return "lacks capabilities this server has ($name $theirs->{$key}, "
            . "this server has $own_privileges->{$key})"
            unless _holds($theirs->{$key}, $own_privileges->{$key});
    }
    return undef;
}

# The supplementary groups that add access to gid $gid, sorted, unique,
# as text: a listed group equal to the gid adds nothing (as src/wire.c).
sub _group_list {
    my ($gid, @groups) = @_;
    my %seen;
    return join ',', sort { $a <=> $b }
        grep { $_ != $gid && !$seen{$_}++ } @groups;
}

1;
