package Proc::Prefork::Interp::PeerCreds;

# Issue 12: at accept, what the kernel reports of a caller without races
# (SO_PEERCRED, SO_PEERGROUPS: its credentials when it connected) must be
# this server's own: a call never runs with other groups than its
# caller's (docs/protocol.md, "Credentials: what selects the server").
# Our client has compared already and never gets refused here.

use strict;
use warnings;

use Errno qw(ERANGE);
use Socket qw(SOL_SOCKET SO_PEERCRED);
use Proc::Prefork::Interp::Linux qw(getsockopt_large);

use constant SO_PEERGROUPS => 59;     # Linux; Socket does not export it

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

# undef if the caller at the other end of $sock has this process's
# effective uid, gid and supplementary groups; else one line saying how
# it differs.
sub differ {
    my ($sock) = @_;
    my $cred = getsockopt($sock, SOL_SOCKET, SO_PEERCRED);
    my ($pid, $uid, $gid) = $cred ? unpack('iII', $cred) : ();
    return sprintf('cannot read the credentials of the caller: %s', $!)
        unless defined $uid;
    my $who = "pid $pid uid $uid gid $gid";
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

# The supplementary groups that add access to gid $gid, sorted, unique,
# as text: a listed group equal to the gid adds nothing (as src/wire.c).
sub _group_list {
    my ($gid, @groups) = @_;
    my %seen;
    return join ',', sort { $a <=> $b }
        grep { $_ != $gid && !$seen{$_}++ } @groups;
}

1;
