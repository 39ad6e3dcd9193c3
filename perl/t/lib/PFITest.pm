package PFITest;

# The helpers of the module's own tests (kept shippable with the module;
# the meson suites reuse the raw client through tests/lib/PFIHarness.pm):
#   - a pure-Perl stand-in for the prefork-interp client, enough to drive
#     the module through the v1 protocol: it makes the listening socket,
#     the first call's socketpair and the watcher pipes, runs the setup,
#     and then makes calls. Every process it starts is ended by finish();
#   - the raw client: connect_path, read_n, send_all, send_fds,
#     send_extra_fds, encode_request, with_length, read_greeting, read_status;
#   - waiting helpers, all "what, then timeout in seconds": wait_for,
#     wait_pids_gone, wait_for_file_content, and the methods wait_procs,
#     wait_server_exit.

use strict;
use warnings;

use Cwd qw(abs_path);
use Fcntl qw(F_GETFD F_SETFD F_GETFL F_SETFL FD_CLOEXEC O_NONBLOCK);
use File::Basename qw(dirname);
use File::Copy qw(copy);
use File::Temp qw(tempdir);
use IO::FDPass ();
use POSIX ();
use Socket qw(AF_UNIX SOCK_STREAM PF_UNSPEC SOMAXCONN pack_sockaddr_un);
use Time::HiRes ();

my $HERE   = dirname(abs_path(__FILE__));
my $LIB    = abs_path("$HERE/../../lib");
my $SCRIPT = "$HERE/pfitest-script.pl";

our $TIMEOUT = 30;
our $LAST_XDATA_LENGTH;

# The server is a daemon: its setup parent exits at once. Becoming a
# child subreaper makes it (and anything it leaves) our child, so the
# tests can reap it instead of leaving zombies to init. Done when the
# first server starts, not on loading: the raw client is used elsewhere.
my $subreaper;
sub _become_subreaper {
    return if $subreaper++;
    local ($@, $!);
    my $prctl = eval { require 'syscall.ph'; SYS_prctl() };
    syscall($prctl, 36, 1, 0, 0, 0) if $prctl;   # PR_SET_CHILD_SUBREAPER
}

sub reap_orphans {
    1 while waitpid(-1, POSIX::WNOHANG()) > 0;
}

sub lib_dir { $LIB }
sub script_source { $SCRIPT }

# Starts a server. Options:
#   opts      => 'key=value;...' options for prefork_initialisation_complete
#   env       => { extra environment for the setup }
#   files     => { name => content } written into the test dir first
#   order     => 'chiark' (WATCHI,WATCHE; default) or 'design' (WATCHE,WATCHI)
#   sigint    => 'ignore' to start the setup with SIGINT ignored and blocked
#   ("__DIR__" in opts and env values stands for the test directory)
#   syslog    => 1 to leave logging to syslog instead of the test log
#   extra     => 1 to append unknown items and words to PREFORK_INTERP
sub new {
    my ($class, %a) = @_;
    _become_subreaper();
    my $dir = tempdir('pfitest-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    chmod 0755, $dir;
    my $self = bless { dir => $dir, log => "$dir/log", calls => 0 }, $class;
    for my $name (sort keys %{$a{files} // {}}) {
        _write_file("$dir/$name", $a{files}{$name});
    }
    $self->{script} = "$dir/script.pl";
    copy($SCRIPT, $self->{script}) or die "copy script: $!";

    my $path = "$dir/s";
    socket(my $listen, AF_UNIX, SOCK_STREAM, 0) or die "socket: $!";
    bind($listen, pack_sockaddr_un($path)) or die "bind: $!";
    listen($listen, SOMAXCONN) or die "listen: $!";
    chmod 0777, $path;
    _set_flag($listen, O_NONBLOCK);
    $self->{path} = $path;
    my @st = Time::HiRes::stat($path);
    my $secs = int $st[9];
    my $mtime = sprintf '%d.%09d', $secs, ($st[9] - $secs) * 1e9;

    socketpair(my $call_client, my $call_server, AF_UNIX, SOCK_STREAM, PF_UNSPEC)
        or die "socketpair: $!";
    pipe(my $wi_r, my $wi_w) or die "pipe: $!";
    pipe(my $we_r, my $we_w) or die "pipe: $!";
    _set_flag($we_r, O_NONBLOCK);

    my @pass = ($listen, $call_server);
    push @pass, ($a{order} // 'chiark') eq 'design' ? ($we_r, $wi_w) : ($wi_w, $we_r);
    my $value = $a{env_value}
        // sprintf('v1,%s%s %s', $mtime,
                   # as our client does, unless playing chiark-utils' client
                   ($a{chiark_client} ? '' : ',xdata'),
                   join ',', map { fileno $_ } @pass);
    # Items and words a later protocol version might add.
    $value =~ s/\A(\S+) (\S+)\z/$1,later $2,999 more words/ if $a{extra};

    my $pid = fork // die "fork: $!";
    if (!$pid) {
        for my $fh (@pass) {
            my $f = fcntl($fh, F_GETFD, 0);
            fcntl($fh, F_SETFD, $f & ~FD_CLOEXEC);
        }
        $ENV{PREFORK_INTERP} = $value;
        $ENV{PFITEST_LOG} = $self->{log} unless $a{syslog};
        # "__DIR__" in option and environment values is the test directory.
        ($ENV{PFITEST_OPTS} = $a{opts} // '') =~ s/__DIR__/$dir/g;
        for my $k (keys %{$a{env} // {}}) {
            ($ENV{$k} = $a{env}{$k}) =~ s/__DIR__/$dir/g;
        }
        if (($a{sigint} // '') eq 'ignore') {
            $SIG{INT} = 'IGNORE';
            POSIX::sigprocmask(POSIX::SIG_BLOCK(),
                               POSIX::SigSet->new(POSIX::SIGINT()));
        }
        open(STDIN, '<', '/dev/null');
        open(STDERR, '>', "$dir/setup.err");
        open(STDOUT, '>&', \*STDERR);
        _close_other_fds(map { fileno $_ } @pass);
        # wrap: a command prefix (setpriv ...) the setup runs under
        exec(@{$a{wrap} // []}, $^X, "-I$LIB", "-I$dir", $self->{script})
            or POSIX::_exit(127);
    }
    close $_ for $listen, $call_server, $wi_w, $we_r;
    $self->{setup_pid} = $pid;
    $self->{first} = $call_client;
    $self->{wi_r} = $wi_r;
    $self->{we_w} = $we_w;
    waitpid($pid, 0);
    $self->{setup_status} = $?;
    return $self;
}

sub dir          { $_[0]{dir} }
sub setup_status { $_[0]{setup_status} }
sub setup_err    { _slurp("$_[0]{dir}/setup.err") }
sub log_text     { _slurp($_[0]{log}) }
sub script       { $_[0]{script} }

# The first call goes over the socketpair handed to the setup.
sub take_first {
    my ($self) = @_;
    return delete $self->{first};
}

sub connect_sock {
    my ($self) = @_;
    return connect_path($self->{path});
}

# A socket for the next call: the first call's socketpair, then connect.
sub call_sock {
    my ($self) = @_;
    return $self->take_first // $self->connect_sock;
}

#---------------------------------------------------------------- raw client

# A connection to the Unix socket at $path, or undef (with $!).
sub connect_path {
    my ($path) = @_;
    socket(my $s, AF_UNIX, SOCK_STREAM, 0) or die "socket: $!";
    connect($s, pack_sockaddr_un($path)) or return undef;
    return $s;
}

# Reads $n bytes, waiting at most $timeout seconds in all; returns what
# it got: fewer bytes at EOF or on timeout.
sub read_n {
    my ($sock, $n, $timeout) = @_;
    my $buf = '';
    my $end = Time::HiRes::time() + ($timeout // $TIMEOUT);
    while (length $buf < $n) {
        my $left = $end - Time::HiRes::time();
        last if $left <= 0;
        my $rin = '';
        vec($rin, fileno $sock, 1) = 1;
        next if select(my $rout = $rin, undef, undef, $left) <= 0;
        my $got = sysread($sock, $buf, $n - length $buf, length $buf);
        last if !$got;
    }
    return $buf;
}

# Returns the xdata, or undef if the greeting was not there (EOF/junk).
sub read_greeting {
    my ($sock, $timeout) = @_;
    my $head = read_n($sock, 8, $timeout);
    return undef unless length $head == 8 && substr($head, 0, 4) eq "PFI\n";
    my $len = unpack 'N', substr($head, 4);
    return undef if $len > 4096;
    my $x = read_n($sock, $len, $timeout);
    return undef unless length $x == $len;
    $LAST_XDATA_LENGTH = $len;
    return $x;
}

sub send_all {
    my ($sock, $data) = @_;
    local $SIG{PIPE} = 'IGNORE';
    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite($sock, $data, length($data) - $off, $off);
        return 0 unless $n;
        $off += $n;
    }
    return 1;
}

sub send_fds {
    my ($sock, @fhs) = @_;
    local $SIG{PIPE} = 'IGNORE';
    for my $fh (@fhs) {
        IO::FDPass::send(fileno $sock, fileno $fh) or return 0;
    }
    return 1;
}

# The extra-fds block: the numbers, then one message per fd.
sub send_extra_fds {
    my ($sock, @pairs) = @_;
    return send_all($sock, with_length(pack 'N*', map { $_->[0] } @pairs))
        && send_fds($sock, map { $_->[1] } @pairs);
}

sub encode_request {
    my (%a) = @_;
    my $env = $a{env} // {};
    my @strings = ((map { "$_=$env->{$_}" } sort keys %$env), '', @{$a{args}});
    return join '', map { "$_\0" } @strings;
}

sub with_length { return pack('N', length $_[0]) . $_[0] }

# Returns the wait status, or undef if the server closed without one.
sub read_status {
    my ($sock, $timeout) = @_;
    my $s = read_n($sock, 4, $timeout);
    return length $s == 4 ? unpack('N', $s) : undef;
}

# A whole call. Options: args (after interp and script; the default
# script is this server's), env (default: a small fixed one), stdin
# (string), sock, interp, script, raw_args (full argument list), uses
# (the step-2 byte, default 0).
# Returns { status, out, err, xdata, sock, out_file }.
sub call {
    my ($self, %a) = @_;
    my $n = ++$self->{calls};
    my $sock = $a{sock} // $self->call_sock or return { refused => 1 };
    my %r = (sock => $sock);
    $r{xdata} = read_greeting($sock);
    return \%r unless defined $r{xdata};
    my ($in, $out, $err) = map { "$self->{dir}/call$n-$$.$_" } qw(in out err);
    $r{out_file} = $out;
    _write_file($in, $a{stdin} // '');
    open(my $ifh, '<', $in) or die;
    open(my $ofh, '>', $out) or die;
    open(my $efh, '>', $err) or die;
    my @args = $a{raw_args}
        ? @{$a{raw_args}}
        : ($a{interp} // 'perl', $a{script} // $self->{script}, @{$a{args} // []});
    my $req = encode_request(env => $a{env} // { PATH => '/usr/bin:/bin', PFITEST => 1 },
                             args => \@args);
    # state => BLOCK: uses caller-state (step-2 bit 0x01), BLOCK after the
    # request; extra => [[NUMBER, HANDLE], ...]: uses extra-fds (0x04),
    # each handle passed for the caller's fd NUMBER; uses => BITS:
    # further step-2 bits (0x02 signals)
    my $extra = $a{extra};
    my $uses = ($a{uses} // 0) | (defined $a{state} ? 0x01 : 0) | ($extra ? 0x04 : 0);
    send_all($sock, chr $uses) && send_fds($sock, $ifh, $ofh, $efh)
        && send_all($sock, with_length($req))
        && (!defined $a{state} || send_all($sock, with_length($a{state})))
        && (!$extra || send_extra_fds($sock, @$extra));
    close $_ for $ifh, $ofh, $efh;
    return \%r if $a{no_wait};
    $r{status} = read_status($sock, $a{timeout});
    $r{out} = _slurp($out);
    $r{err} = _slurp($err);
    close $sock unless $a{keep};
    return \%r;
}

# True once the server has gone: EOF on the watcher's stdin pipe, whose
# write end only the server holds.
sub wait_server_exit {
    my ($self, $timeout) = @_;
    my $fh = $self->{wi_r} or return 1;
    my $end = Time::HiRes::time() + ($timeout // $TIMEOUT);
    for (;;) {
        my $left = $end - Time::HiRes::time();
        return 0 if $left <= 0;
        my $rin = '';
        vec($rin, fileno $fh, 1) = 1;
        next if select(my $rout = $rin, undef, undef, $left) <= 0;
        my $got = sysread($fh, my $buf, 1);
        if (defined $got && $got == 0) {
            close delete $self->{wi_r};
            return 1;
        }
    }
}

sub server_alive {
    my ($self) = @_;
    my $fh = $self->{wi_r} or return 0;
    my $rin = '';
    vec($rin, fileno $fh, 1) = 1;
    return select(my $rout = $rin, undef, undef, 0) == 0;
}

sub watcher_say {
    my ($self, $msg) = @_;
    return syswrite($self->{we_w}, $msg);
}

sub watcher_close {
    my ($self) = @_;
    close delete $self->{we_w} if $self->{we_w};
}

# Processes whose command line mentions this test's directory: the
# server, its spares and executors all carry the script path in $0.
sub procs {
    my ($self) = @_;
    my @found;
    opendir(my $dh, '/proc') or return;
    for my $pid (grep { /\A[0-9]+\z/ } readdir $dh) {
        next if $pid == $$;
        open(my $fh, '<', "/proc/$pid/cmdline") or next;
        local $/;
        my $cmd = <$fh> // '';
        push @found, $pid if index($cmd, $self->{dir}) >= 0;
    }
    return sort { $a <=> $b } @found;
}

#---------------------------------------------------------------- waiting

# Polls $cond until it returns true or $timeout seconds pass; returns
# its last value.
sub wait_for {
    my ($cond, $timeout) = @_;
    ref $cond eq 'CODE' or die "wait_for(CONDITION, SECONDS): not a code ref: $cond\n";
    my $end = Time::HiRes::time() + ($timeout // $TIMEOUT);
    for (;;) {
        my $got = $cond->();
        return $got if $got || Time::HiRes::time() >= $end;
        Time::HiRes::sleep(0.01);
    }
}

# The pid of this test's process titled "[prefork $title]" (server,
# spare, ...), waiting up to 5 s: a forked child takes its title
# shortly after the fork.
sub titled {
    my ($self, $title) = @_;
    return wait_for(sub {
        my ($pid) = grep { (_slurp("/proc/$_/cmdline") // '') =~ /\[prefork \Q$title\E\]/ }
            $self->procs;
        return $pid;
    }, 5);
}

# Waits until the processes of this test are exactly $want in number;
# returns their number.
sub wait_procs {
    my ($self, $want, $timeout) = @_;
    my $n;
    wait_for(sub { ($n = () = $self->procs) == $want }, $timeout // 10);
    return $n;
}

sub wait_for_file_content {
    my ($file, $re, $timeout) = @_;
    return wait_for(sub {
        my $c = _slurp($file);
        return defined $c && $c =~ $re ? $c : undef;
    }, $timeout);
}

# Ends the server (EOF from the watcher) and everything it started.
# Returns true if nothing of this test is left running.
sub finish {
    my ($self) = @_;
    close delete $self->{first} if $self->{first};
    $self->watcher_close;
    my $gone = $self->wait_server_exit(15);
    my $left = $self->wait_procs(0, 5);
    kill 'KILL', $self->procs if $left;
    reap_orphans();
    return $gone && !$left;
}

sub DESTROY {
    my ($self) = @_;
    return if $self->{finished}++;
    local ($?, $!, $@);
    $self->watcher_close;
    kill 'KILL', $self->procs;
    reap_orphans();
}

# A clean client passes only the fds the protocol names: close whatever
# this test process inherited from its own environment.
sub _close_other_fds {
    my %keep = map { $_ => 1 } 0, 1, 2, @_;
    opendir(my $dh, '/proc/self/fd') or return;
    my @fds = grep { /\A[0-9]+\z/ && !$keep{$_} } readdir $dh;
    closedir $dh;
    POSIX::close($_) for @fds;
}

# True while $pid exists and is not a zombie.
sub alive {
    my ($pid) = @_;
    open(my $fh, '<', "/proc/$pid/stat") or return 0;
    my $stat = <$fh> // return 0;
    my ($state) = $stat =~ /\) (\S)/;
    return defined $state && $state ne 'Z' && $state ne 'X';
}

# Waits until none of @$pids is alive; returns the seconds it took, or
# undef on timeout.
sub wait_pids_gone {
    my ($pids, $timeout) = @_;
    my $start = Time::HiRes::time();
    while (grep { alive($_) } @$pids) {
        return undef if Time::HiRes::time() - $start > $timeout;
        Time::HiRes::sleep(0.005);
    }
    return Time::HiRes::time() - $start;
}

sub _set_flag {
    my ($fh, $flag) = @_;
    my $f = fcntl($fh, F_GETFL, 0);
    fcntl($fh, F_SETFL, $f | $flag) or die "fcntl: $!";
}

sub _write_file {
    my ($path, $content) = @_;
    open(my $fh, '>', $path) or die "$path: $!";
    print $fh $content;
    close $fh or die "$path: $!";
}

sub _slurp {
    my ($path) = @_;
    open(my $fh, '<', $path) or return undef;
    local $/;
    return scalar <$fh>;
}

# Runs the test script standalone and returns ($wait_status, $stdout).
sub run_standalone {
    my (@args) = @_;
    my $dir = tempdir('pfitest-sa-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $pid = fork // die;
    if (!$pid) {
        delete $ENV{PREFORK_INTERP};
        open(STDIN, '<', '/dev/null');
        open(STDOUT, '>', "$dir/out");
        open(STDERR, '>', "$dir/err");
        _close_other_fds();
        exec($^X, "-I$LIB", $SCRIPT, @args) or POSIX::_exit(127);
    }
    waitpid($pid, 0);
    return ($?, _slurp("$dir/out"));
}

1;
