package Proc::Prefork::Interp;

# Script-side half of prefork-interp: turns an initialised script into a
# persistent server that runs its per-call code in pre-forked processes.
# The POD at the end is the user documentation; comments here explain
# why the code is shaped the way it is.

use strict;
use warnings;

our $VERSION = '0.01';

use Exporter qw(import);
our @EXPORT = qw(prefork_initialisation_complete prefork_autoreload_also_check);

use Carp qw(croak);
use Errno qw(EINTR EAGAIN EWOULDBLOCK ENOENT ENOTDIR EPIPE ECONNRESET
             ECONNABORTED ENOSYS);
use Fcntl qw(F_GETFL F_SETFL F_GETFD F_SETFD FD_CLOEXEC O_NONBLOCK
             O_ACCMODE O_RDONLY O_WRONLY);
use IO::FDPass ();
use IO::Handle ();
use IO::Poll qw(POLLIN);
use POSIX ();
use Socket qw(SOL_SOCKET SO_PEERCRED MSG_NOSIGNAL MSG_PEEK MSG_DONTWAIT
              SHUT_RDWR AF_UNIX SOCK_STREAM PF_UNSPEC);
use Sys::Syslog ();
use Time::HiRes ();

use constant {
    ENV_NAME      => 'PREFORK_INTERP',
    XDATA         => 'full-argv',
    # Item in PREFORK_INTERP's first word by which a client that
    # decodes the greeting's xdata length correctly (big-endian) says so.
    # chiark-utils' client reads that length in host byte order, so it
    # must get empty xdata; it never sets this item.
    XDATA_MARKER  => 'xdata',
    MAX_REQUEST   => 32 * 1024 * 1024,
    READ_CHUNK    => 65536,
    POLLRDHUP     => 0x2000,          # Linux value; IO::Poll does not export it
    KILL_GRACE    => 0.5,             # seconds between SIGINT and SIGKILL
    NOPIDFD_TICK  => 0.1,             # poll bound when a child has no pidfd
    FORK_RETRY    => 1,               # seconds to wait after a failed fork
    GRANTED_CHECK => 0.005,           # seconds after a hand-off to look for 'R'
    PREFAULT_CHUNK => 256 << 10,        # bytes prefaulted between checks for a call
    HUGE_PAGE      => 2 << 20,
    MADV_HUGEPAGE       => 14,
    MADV_POPULATE_WRITE => 23,        # Linux 5.14
    MADV_COLLAPSE       => 25,        # Linux 6.1

    IN_MODIFY      => 0x00000002,
    IN_ATTRIB      => 0x00000004,
    IN_CLOSE_WRITE => 0x00000008,
    IN_MOVED_FROM  => 0x00000040,
    IN_MOVED_TO    => 0x00000080,
    IN_CREATE      => 0x00000100,
    IN_DELETE      => 0x00000200,
    IN_DELETE_SELF => 0x00000400,
    IN_MOVE_SELF   => 0x00000800,
    IN_Q_OVERFLOW  => 0x00004000,
    IN_IGNORED     => 0x00008000,
    IN_NONBLOCK    => 0x00000800,     # == O_NONBLOCK
    IN_CLOEXEC     => 0x00080000,     # == O_CLOEXEC
};

use constant FILE_EVENTS => IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE
                          | IN_MOVE_SELF | IN_DELETE_SELF;
use constant DIR_EVENTS  => IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM;

my %DEFAULTS = (
    max_servers      => 4,
    max_pending      => 16,
    pending_grace    => 1,
    prefork_spares   => 1,
    prefault         => 64,
    hugepages        => 1,
    idle_timeout     => 1_000_000,
    request_timeout  => 30,
    max_errors       => 100,
    log_facility     => 'LOG_USER',
    autoreload_inc   => 1,
    autoreload_extra => [],
    logger           => undef,
);

# Syscall numbers come from syscall.ph, whose subs land in the package
# that first required it; a table covers the case where that package is
# unknown. Without a number, pidfd or inotify counts as unavailable and
# the fallbacks are used.
my %SYSCALL_TABLE = (
    x86_64  => [434, 294, 254, 28],
    aarch64 => [434, 26, 27, 233],
    i686    => [434, 332, 292, 219],
);
# Package variables so that the tests can force the fallbacks.
our ($SYS_pidfd_open, $SYS_inotify_init1, $SYS_inotify_add_watch, $SYS_madvise);
{
    local ($@, $!);
    eval { require 'syscall.ph'; 1 };
    no strict 'refs';
    for my $pkg (__PACKAGE__, 'main') {
        next unless defined &{"${pkg}::SYS_inotify_add_watch"};
        $SYS_pidfd_open        = eval { &{"${pkg}::SYS_pidfd_open"}() };
        $SYS_inotify_init1     = eval { &{"${pkg}::SYS_inotify_init1"}() };
        $SYS_inotify_add_watch = eval { &{"${pkg}::SYS_inotify_add_watch"}() };
        $SYS_madvise           = eval { &{"${pkg}::SYS_madvise"}() };
        last;
    }
    unless (defined $SYS_inotify_add_watch) {
        require Config;
        my ($arch) = ($Config::Config{archname} // '') =~ /\A([^-]+)/;
        my $nums = $SYSCALL_TABLE{$arch // ''} // [];
        ($SYS_pidfd_open, $SYS_inotify_init1, $SYS_inotify_add_watch,
         $SYS_madvise) = @$nums;
    }
}

my @also_check;        # paths from prefork_autoreload_also_check
my $is_executor = 0;   # set in a forked child that is to run per-call code
my $srv;               # server state, see _become_server
my $logger;            # user's logging callback, if any
my $syslog_args;       # [ident, options, facility] when syslog is in use
my $syslog_open = 0;
my $retired_server_state;   # see _drop_server_state
my $greeting;          # bytes sent at the start of every call

sub prefork_autoreload_also_check {
    push @also_check, @_;
    return;
}

#---------------------------------------------------------------- logging

sub _log {
    my ($priority, $message) = @_;
    if ($logger) {
        local ($@, $!);
        eval { $logger->($priority, $message); 1 };
        return;
    }
    return unless $syslog_args;
    local ($@, $!);
    unless ($syslog_open) {
        eval { Sys::Syslog::openlog(@$syslog_args); 1 } or return;
        $syslog_open = 1;
    }
    eval { Sys::Syslog::syslog($priority, '%s', $message); 1 };
    return;
}

sub _closelog {
    return unless $syslog_open;
    local ($@, $!);
    eval { Sys::Syslog::closelog(); 1 };
    $syslog_open = 0;
    return;
}

#---------------------------------------------------------------- setup

sub prefork_initialisation_complete {
    my %opts = @_;
    my $env = $ENV{+ENV_NAME};
    return unless defined $env;

    for my $k (sort keys %opts) {
        exists $DEFAULTS{$k}
            or croak "Proc::Prefork::Interp: unknown option '$k'";
    }
    my %o = (%DEFAULTS, %opts);
    for my $k (qw(max_servers max_pending pending_grace prefork_spares
                  prefault idle_timeout request_timeout max_errors)) {
        defined $o{$k} && $o{$k} =~ /\A-?[0-9]+(?:\.[0-9]*)?\z/
            or croak "Proc::Prefork::Interp: option '$k' must be a number";
    }
    $o{prefork_spares} >= 0
        or croak "Proc::Prefork::Interp: option 'prefork_spares' must not be negative";
    ref $o{autoreload_extra} eq 'ARRAY'
        or croak "Proc::Prefork::Interp: option 'autoreload_extra' must be an array ref";
    !defined $o{logger} || ref $o{logger} eq 'CODE'
        or croak "Proc::Prefork::Interp: option 'logger' must be a code ref";
    $o{max_servers} = 1 if $o{max_servers} == 0;
    $o{max_pending} = 1 if $o{max_pending} < 1;
    my $p = _parse_env($env);
    my $xdata = $p->{client_reads_xdata} ? XDATA : '';
    $greeting = "PFI\n" . pack('N', length $xdata) . $xdata;
    my %fh;
    for my $role (qw(listen call watchi watche)) {
        my $fd = $p->{$role};
        my $acc = $p->{flags}{$fd} & O_ACCMODE;
        my $mode = $acc == O_RDONLY ? '<&=' : $acc == O_WRONLY ? '>&=' : '+<&=';
        open($fh{$role}, $mode, $fd)
            or croak "Proc::Prefork::Interp: cannot use fd $fd ($role): $!";
        my $fdflags = fcntl($fh{$role}, F_GETFD, 0);
        fcntl($fh{$role}, F_SETFD, $fdflags | FD_CLOEXEC) if defined $fdflags;
    }
    for my $role (qw(listen watche)) {
        fcntl($fh{$role}, F_SETFL, $p->{flags}{$p->{$role}} | O_NONBLOCK)
            or croak "Proc::Prefork::Interp: cannot make $role non-blocking: $!";
    }
    delete $ENV{+ENV_NAME};

    $logger = $o{logger};
    if (!$logger && length $o{log_facility}) {
        $syslog_args = ['prefork-interp', 'ndelay,nofatal,pid', $o{log_facility}];
        _log_open_now();
    }

    # Buffered output of the initialisation must come out once, from here.
    STDOUT->flush;
    STDERR->flush;

    my $pid = fork;
    defined $pid or croak "Proc::Prefork::Interp: fork: $!";
    POSIX::_exit(0) if $pid;     # the client waits for the setup to exit 0

    _become_server(\%o, $p, \%fh);
    return;                      # only executors get here
}

sub _log_open_now {
    local ($@, $!);
    eval { Sys::Syslog::openlog(@$syslog_args); 1 } and $syslog_open = 1;
    return;
}

# Access mode and status flags of a raw fd, or undef if it is not open.
sub _fd_flags {
    my ($fd) = @_;
    my $dup = POSIX::dup($fd);
    return undef unless defined $dup;
    my $flags;
    if (open(my $fh, '<&=', $dup)) {
        $flags = fcntl($fh, F_GETFL, 0);
        close $fh;
    } else {
        POSIX::close($dup);
    }
    return defined $flags ? $flags + 0 : undef;
}

sub _parse_env {
    my ($value) = @_;
    my $bad = sub {
        croak "Proc::Prefork::Interp: malformed " . ENV_NAME
            . " \"$value\": $_[0]";
    };
    my @words = split / /, $value, -1;
    @words >= 2 or $bad->('expected at least two space-separated words');
    my @version = split /,/, $words[0], -1;
    @version >= 2 && $version[0] eq 'v1'
        or $bad->('first word must be "v1,SECS.NSECS" (protocol v1)');
    my ($secs, $nsecs) = $version[1] =~ /\A([0-9]+)(?:\.([0-9]{1,9}))?\z/
        or $bad->("startup time \"$version[1]\" is not SECS.NSECS");
    $nsecs = substr(($nsecs // '') . '000000000', 0, 9);

    my @fds = split /,/, $words[1], -1;
    @fds >= 4 or $bad->('second word must list at least four fds');
    my (%flags, %seen);
    for my $fd (@fds[0 .. 3]) {
        $fd =~ /\A[0-9]{1,9}\z/ or $bad->("\"$fd\" is not an fd number");
        $fd += 0;
        $fd > 2 or $bad->("fd $fd is a standard stream");
        $seen{$fd}++ and $bad->("fd $fd is listed twice");
        $flags{$fd} = _fd_flags($fd);
        defined $flags{$fd} or $bad->("fd $fd is not open");
    }
    # chiark-utils passes WATCHI before WATCHE; the access modes say which
    # is which whatever the order, so only an undecidable case uses it.
    my ($watchi, $watche) = @fds[2, 3];
    if (($flags{$fds[2]} & O_ACCMODE) == O_RDONLY
        && ($flags{$fds[3]} & O_ACCMODE) == O_WRONLY) {
        ($watchi, $watche) = @fds[3, 2];
    }
    return {
        secs   => $secs + 0,
        nsecs  => $nsecs + 0,
        listen => $fds[0],
        call   => $fds[1],
        watchi => $watchi,
        watche => $watche,
        flags  => \%flags,
        client_reads_xdata => scalar grep { $_ eq XDATA_MARKER } @version[2 .. $#version],
    };
}

#---------------------------------------------------------------- server

sub _become_server {
    my ($o, $p, $fh) = @_;
    POSIX::setsid();
    open(STDIN, '<', '/dev/null');
    open(STDOUT, '>', '/dev/null');
    open(STDERR, '>', '/dev/null');

    $srv = {
        opts        => $o,
        script      => $0,
        start_secs  => $p->{secs},
        start_nsecs => $p->{nsecs},
        listen      => $fh->{listen},
        watche      => $fh->{watche},
        watchi      => $fh->{watchi},
        kids        => {},      # pid => child record
        spares      => [],      # idle child records, oldest first
        last_active => Time::HiRes::time(),
        errors      => 0,
        quitting    => 0,
        user_sig    => { map { $_ => $SIG{$_} } qw(CHLD ALRM) },
    };
    # Status writes to vanished clients must not kill the server.
    $SIG{PIPE} = 'IGNORE';
    $SIG{CHLD} = 'DEFAULT';

    _dispatch($fh->{call});
    return if $is_executor;
    _memory_plan();

    _autoreload_init();
    $0 = "$srv->{script} [prefork server]";
    _server_loop();
    return;   # in an executor
}

# A call that was free to run when it was handed over is 'granted': it
# holds a running slot, and its go-ahead travelled with the hand-off, so
# its executor starts the moment it has the request, without a round trip
# through the server. Until the request is in ('R') it is also still in
# its exchange, and may be dropped like any pending call.
sub _running_count {
    return scalar grep { $_->{state} eq 'running' || $_->{state} eq 'granted' }
        values %{$srv->{kids}};
}

sub _in_exchange {
    my ($kid) = @_;
    return $kid->{state} eq 'pending' || $kid->{state} eq 'granted';
}

# Calls accepted but not yet running: still in the protocol exchange
# ('pending', 'granted') or done with it and waiting for a running slot
# ('ready'). They have their own bound, max_pending, so that connections
# that never complete the exchange cannot take the running slots of
# max_servers for long (see _evictable).
sub _pending_kids {
    return grep { _in_exchange($_) || $_->{state} eq 'ready' }
        values %{$srv->{kids}};
}

sub _busy_count {
    return scalar grep { $_->{state} ne 'spare' && $_->{state} ne 'dead' }
        values %{$srv->{kids}};
}

# The oldest call still in the exchange after pending_grace seconds: the
# one to drop when the pending slots are full and another call waits.
sub _evictable {
    my $limit = Time::HiRes::time() - $srv->{opts}{pending_grace};
    my ($old) = sort { $a->{since} <=> $b->{since} }
        grep { _in_exchange($_) && $_->{since} <= $limit }
        values %{$srv->{kids}};
    return $old;
}

# The oldest call holding a running slot while still in its exchange
# ('granted') for more than pending_grace seconds: dropped when a call
# that has its whole request waits for a slot.
sub _stalled_granted {
    my $limit = Time::HiRes::time() - $srv->{opts}{pending_grace};
    my ($old) = sort { $a->{since} <=> $b->{since} }
        grep { $_->{state} eq 'granted' && $_->{since} <= $limit }
        values %{$srv->{kids}};
    return $old;
}

# Lets ready calls run while running slots are free, oldest first.
sub _start_ready {
    my $max = $srv->{opts}{max_servers};
    my @ready = sort { $a->{since} <=> $b->{since} }
        grep { $_->{state} eq 'ready' } values %{$srv->{kids}};
    for my $kid (@ready) {
        if ($max >= 0 && _running_count() >= $max) {
            my $stalled = _stalled_granted() or last;
            _evict($stalled);
        }
        my $sent = send($kid->{ctl}, 'G', MSG_NOSIGNAL);
        close(delete $kid->{ctl});
        $kid->{state} = defined $sent && $sent == 1 ? 'running' : 'dead';
    }
    return;
}

# Sends a just-handed-over call its go-ahead at once if a running slot
# is free (see _running_count).
sub _grant_if_free {
    my ($kid) = @_;
    my $max = $srv->{opts}{max_servers};
    return if $max >= 0 && _running_count() >= $max;
    my $sent = send($kid->{ctl}, 'G', MSG_NOSIGNAL | MSG_DONTWAIT);
    $kid->{state} = 'granted' if defined $sent && $sent == 1;
    return;
}

# A pending call's executor has written to its control socket: 'R' when
# it has the whole request; EOF when it ended (reaped separately).
sub _pending_readable {
    my ($kid) = @_;
    my $got = sysread($kid->{ctl}, my $byte, 1);
    return if !defined $got && ($! == EAGAIN || $! == EINTR);
    # A spare's report that it finished prefaulting ('D') can cross the
    # hand-off of a call: it is not the executor's 'R'.
    if ($got && $byte eq 'D') {
        $kid->{prefault_done} = 1;
        return;
    }
    if ($got && $byte eq 'R' && $kid->{state} eq 'pending') {
        $kid->{state} = 'ready';
        $kid->{since} = Time::HiRes::time();
        return;
    }
    if ($got && $byte eq 'R' && $kid->{state} eq 'granted') {
        $kid->{state} = 'running';
        close(delete $kid->{ctl});
        return;
    }
    close(delete $kid->{ctl});
    return;
}

# A granted call's executor starts on its own; its 'R' only tells the
# server that the exchange is over. The server does not wake for it:
# waking would put the server on the CPU the executor has just become
# runnable on (the scheduler places a woken task near its waker), and
# the server's next step, forking a new spare, would then hold the
# call's executor off that CPU for as long as the fork takes. It reads
# the 'R' at its next pass instead: the call's end, another call, or
# GRANTED_CHECK after the hand-off, whichever comes first; from then on
# it waits for it as for any pending call's.
sub _check_granted {
    for my $kid (grep { $_->{state} eq 'granted' && $_->{ctl} }
                 values %{$srv->{kids}}) {
        while ($kid->{ctl} && $kid->{state} eq 'granted') {
            my $got = recv($kid->{ctl}, my $byte, 1, MSG_PEEK | MSG_DONTWAIT);
            last unless defined $got;   # nothing yet (EAGAIN)
            _pending_readable($kid);
        }
    }
    return;
}

# Drops a call that has not finished its exchange, to make room.
sub _evict {
    my ($kid) = @_;
    _log('warning', "$srv->{script}: dropped call [$kid->{pid}]: protocol "
         . "exchange not complete after $srv->{opts}{pending_grace} s and "
         . "$srv->{opts}{max_pending} calls pending");
    kill 'KILL', -$kid->{pid};
    kill 'KILL', $kid->{pid};
    close(delete $kid->{ctl}) if $kid->{ctl};
    close(delete $kid->{call}) if $kid->{call};
    $kid->{state} = 'dead';
    return;
}

sub _server_loop {
    my $o = $srv->{opts};
    for (;;) {
        # Without a pidfd a child is checked every pass and poll is bounded.
        _reap($_) for grep { !defined $_->{pidfd} } values %{$srv->{kids}};
        _replenish_spares();
        return if $is_executor;
        _allow_prefault() if $srv->{prefault};
        _collapse_retry() if $srv->{collapse_retry} && !_busy_count();
        _final_exit() if $srv->{quitting} && !%{$srv->{kids}};

        my $now = Time::HiRes::time();
        my (@pollv, @role);
        my $deadline;
        my $soonest = sub {
            $deadline = $_[0] if !defined $deadline || $_[0] < $deadline;
        };
        _check_granted();
        _start_ready();
        my $running = _busy_count();
        my @pending = _pending_kids();
        if ($srv->{listen}
            && (@pending < $o->{max_pending} || _evictable())) {
            push @pollv, fileno($srv->{listen}), POLLIN;
            push @role, ['listen'];
        } elsif ($srv->{listen}) {
            # Full: wake when the oldest pending call may be dropped.
            my ($oldest) = sort { $a <=> $b } map { $_->{since} }
                grep { _in_exchange($_) } @pending;
            $soonest->($oldest + $o->{pending_grace}) if defined $oldest;
        }
        if ($srv->{watche}) {
            push @pollv, fileno($srv->{watche}), POLLIN;
            push @role, ['watche'];
        }
        if ($srv->{inotify}) {
            push @pollv, fileno($srv->{inotify}), POLLIN;
            push @role, ['inotify'];
        }
        my $no_pidfd = 0;
        for my $kid (values %{$srv->{kids}}) {
            if (defined $kid->{pidfd}) {
                push @pollv, $kid->{pidfd}, POLLIN;
                push @role, ['child', $kid];
            } else {
                $no_pidfd = 1;
            }
            if ($kid->{call} && !$kid->{gone}) {
                push @pollv, fileno($kid->{call}), POLLRDHUP;
                push @role, ['call', $kid];
            }
            if ($kid->{ctl} && $kid->{state} eq 'spare'
                && $kid->{prefault_sent} && !$kid->{prefault_done}) {
                push @pollv, fileno($kid->{ctl}), POLLIN;
                push @role, ['prefaulted', $kid];
            }
            # A granted call's 'R' is not waited for in the first
            # GRANTED_CHECK after its hand-off (see _check_granted), only
            # looked for at the end of it; a slower one wakes the server.
            my $granted = $kid->{state} eq 'granted';
            if ($kid->{ctl} && ($kid->{state} eq 'pending'
                    || ($granted && $kid->{since} + GRANTED_CHECK <= $now))) {
                push @pollv, fileno($kid->{ctl}), POLLIN;
                push @role, ['pending', $kid];
            }
            $soonest->($kid->{since} + GRANTED_CHECK)
                if $granted && $kid->{since} + GRANTED_CHECK > $now;
            $soonest->($kid->{gone} + KILL_GRACE)
                if $kid->{gone} && !$kid->{killed};
        }
        $soonest->($now + NOPIDFD_TICK) if $no_pidfd;
        if (grep { $_->{state} eq 'ready' } values %{$srv->{kids}}) {
            my ($oldest) = sort { $a <=> $b } map { $_->{since} }
                grep { $_->{state} eq 'granted' } values %{$srv->{kids}};
            $soonest->($oldest + $o->{pending_grace}) if defined $oldest;
        }
        $soonest->($srv->{last_active} + $o->{idle_timeout})
            if $srv->{listen} && !$running && $o->{idle_timeout} >= 0;
        $soonest->($srv->{spare_retry}) if $srv->{spare_retry};

        my $timeout = -1;
        if (defined $deadline) {
            $timeout = ($deadline - $now) * 1000;
            $timeout = $timeout < 0 ? 0 : int($timeout) + 1;
            $timeout = 0x7fffffff if $timeout > 0x7fffffff;
        }
        my $n = IO::Poll::_poll($timeout, @pollv);
        if ($n < 0) {
            next if $! == EINTR;
            _log('err', "$srv->{script}: poll failed: $!; quitting");
            _begin_quit();
            next;
        }

        my %ready;
        for my $i (0 .. $#role) {
            my $revents = $pollv[2 * $i + 1] or next;
            my ($what, $kid) = @{$role[$i]};
            if ($what eq 'child') {
                _reap($kid);
            } elsif ($what eq 'call') {
                _client_gone($kid);
            } elsif ($what eq 'prefaulted') {
                $kid->{prefault_done} = 1;
                my $got = sysread($kid->{ctl}, my $byte, 1);
                _own_prefault() if $got && $byte eq 'D' && !_busy_count()
                                   && $srv->{small};
            } elsif ($what eq 'pending') {
                _pending_readable($kid) if $srv->{kids}{$kid->{pid}};
            } else {
                $ready{$what} = 1;
            }
        }
        _escalate_kills();
        _watcher_readable() if $ready{watche};
        _autoreload_poll() if $ready{inotify};
        if ($ready{listen} && $srv->{listen}) {
            # Stale code must not serve this call: check before accepting.
            _autoreload_poll();
            if ($srv->{listen} && _pending_kids() >= $o->{max_pending}) {
                my $old = _evictable();
                _evict($old) if $old;
            }
            _accept_one() if $srv->{listen} && _pending_kids() < $o->{max_pending};
            return if $is_executor;
        }
        if ($srv->{listen} && !_busy_count() && $o->{idle_timeout} >= 0
            && Time::HiRes::time() >= $srv->{last_active} + $o->{idle_timeout}) {
            _log('info', "$srv->{script}: idle for $o->{idle_timeout} s, quitting");
            _begin_quit();
        }
    }
}

sub _accept_one {
    my $call;
    if (accept($call, $srv->{listen})) {
        $srv->{errors} = 0;
        _dispatch($call);
        return;
    }
    return if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR
           || $! == ECONNABORTED;
    my $err = "$!";
    _log('warning', "$srv->{script}: accept failed: $err");
    if (++$srv->{errors} > $srv->{opts}{max_errors}) {
        _log('err', "$srv->{script}: too many accept failures, quitting");
        _begin_quit();
    }
    return;
}

# Hands an accepted (or the initial) call to an executor.
sub _dispatch {
    my ($call) = @_;
    my $cred = getsockopt($call, SOL_SOCKET, SO_PEERCRED);
    my ($peer_pid, $peer_uid) = $cred ? unpack('iII', $cred) : ();
    if (!defined $peer_uid || $peer_uid != $>) {
        _log('warning', sprintf(
            '%s: refused a call from pid %s uid %s (this server runs as uid %d)',
            $srv->{script}, $peer_pid // '?', $peer_uid // '?', $>));
        close $call;
        return;
    }
    # The greeting goes out from here, at once, so that the client reads
    # it while the executor is still waking up. A fresh connection's
    # buffer always has room for it; failing means the client is gone.
    unless (send($call, $greeting, MSG_DONTWAIT | MSG_NOSIGNAL)) {
        close $call;
        return;
    }
    $srv->{last_active} = Time::HiRes::time();
    while (my $kid = shift @{$srv->{spares}}) {
        my $ok = IO::FDPass::send(fileno($kid->{ctl}), fileno($call));
        my $err = "$!";
        if ($ok) {
            # The control socket stays: the executor reports on it when
            # it has the whole request (see _start_ready).
            $kid->{state} = 'pending';
            $kid->{since} = Time::HiRes::time();
            $kid->{call}  = $call;
            _grant_if_free($kid);
            return;
        }
        close(delete $kid->{ctl});
        _log('warning', "$srv->{script}: spare [$kid->{pid}] could not take a call: $err");
        kill 'KILL', $kid->{pid};
        $kid->{state} = 'dead';
    }
    my $kid = _fork_executor($call);
    return if $is_executor;
    if ($kid) {
        $kid->{call} = $call;
        _grant_if_free($kid);
    } else {
        close $call;
    }
    return;
}

# Forking a large server takes a while and leaves its pages shared
# copy-on-write: it is done while no call needs the server for its
# protocol exchange, so it overlaps running calls instead of delaying them.
sub _replenish_spares {
    return if $srv->{quitting};
    return if @{$srv->{spares}} >= $srv->{opts}{prefork_spares};
    return if _pending_kids();
    if ($srv->{spare_retry}) {
        return if Time::HiRes::time() < $srv->{spare_retry};
        delete $srv->{spare_retry};
    }
    while (@{$srv->{spares}} < $srv->{opts}{prefork_spares}) {
        unless (_fork_executor(undef)) {
            return if $is_executor;
            $srv->{spare_retry} = Time::HiRes::time() + FORK_RETRY;
            return;
        }
    }
    return;
}

# Forks a child that will run per-call code. With $call it serves that
# call at once; without, it is a spare waiting for a call on its control
# socket. Returns the child record in the server, nothing in the child.
sub _fork_executor {
    my ($call) = @_;
    my ($ctl, $ctl_child);
    unless (socketpair($ctl, $ctl_child, AF_UNIX, SOCK_STREAM, PF_UNSPEC)) {
        _log('err', "$srv->{script}: socketpair: $!");
        return;
    }
    my $pid = fork;
    unless (defined $pid) {
        _log('err', "$srv->{script}: fork: $!");
        return;
    }
    unless ($pid) {
        $is_executor = 1;
        close $ctl if $ctl;
        _executor_start($call, $ctl_child);
        return;
    }
    close $ctl_child;
    # Also done by the child; doing both avoids a race with kill(-pgrp).
    POSIX::setpgid($pid, $pid);
    my $kid = {
        pid   => $pid,
        pidfd => _pidfd_open($pid),
        state => $call ? 'pending' : 'spare',
        since => Time::HiRes::time(),
        ctl   => $ctl,
    };
    $srv->{kids}{$pid} = $kid;
    push @{$srv->{spares}}, $kid unless $call;
    return $kid;
}

sub _pidfd_open {
    my ($pid) = @_;
    if ($SYS_pidfd_open) {
        my $fd = syscall($SYS_pidfd_open, $pid + 0, 0);
        return $fd if $fd >= 0;
        if ($! == ENOSYS) {
            undef $SYS_pidfd_open;
        } else {
            _log('warning', "$srv->{script}: pidfd_open: $!");
        }
    }
    # Without a pidfd, SIGCHLD interrupts poll and the poll is bounded.
    $SIG{CHLD} = sub { } unless ref $SIG{CHLD};
    return undef;
}

sub _reap {
    my ($kid) = @_;
    my $got = waitpid($kid->{pid}, POSIX::WNOHANG());
    return if $got == 0;
    my $status = $got == $kid->{pid} ? ${^CHILD_ERROR_NATIVE} : undef;
    delete $srv->{kids}{$kid->{pid}};
    POSIX::close($kid->{pidfd}) if defined $kid->{pidfd};
    if ($kid->{state} eq 'spare') {
        @{$srv->{spares}} = grep { $_ != $kid } @{$srv->{spares}};
        _log('warning', "$srv->{script}: spare [$kid->{pid}] ended unexpectedly"
             . (defined $status ? " with wait status $status" : ''));
    }
    close $kid->{ctl} if $kid->{ctl};
    if (my $call = $kid->{call}) {
        if (!$kid->{gone} && defined $status) {
            my $sent = send($call, pack('N', $status), MSG_NOSIGNAL);
            if (!defined $sent && $! != EPIPE && $! != ECONNRESET) {
                _log('warning', "$srv->{script}: writing status of [$kid->{pid}]: $!");
            }
        }
        close $call;
        $srv->{last_active} = Time::HiRes::time();
    }
    return;
}

# The client hung up: stop the whole call, politely first.
sub _client_gone {
    my ($kid) = @_;
    return if $kid->{gone};
    $kid->{gone} = Time::HiRes::time();
    kill 'INT', -$kid->{pid};
    return;
}

sub _escalate_kills {
    my $now = Time::HiRes::time();
    for my $kid (values %{$srv->{kids}}) {
        next unless $kid->{gone} && !$kid->{killed};
        next if $now < $kid->{gone} + KILL_GRACE;
        $kid->{killed} = 1;
        kill 'KILL', -$kid->{pid};
    }
    return;
}

sub _watcher_readable {
    my $got = sysread($srv->{watche}, my $buf, 4096);
    if (!defined $got) {
        return if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
        _log('err', "$srv->{script}: reading from watcher: $!; quitting");
    } elsif ($got) {
        $buf =~ s/\s+\z//;
        _log('err', "$srv->{script}: watcher: $buf");
    } else {
        _log('info', "$srv->{script}: socket removed or replaced, quitting");
    }
    _begin_quit();
    return;
}

# Stops taking calls; the loop exits once every running call has ended.
sub _begin_quit {
    return if $srv->{quitting}++;
    for my $role (qw(listen watche inotify)) {
        close(delete $srv->{$role}) if $srv->{$role};
    }
    for my $kid (@{$srv->{spares}}) {
        close(delete $kid->{ctl}) if $kid->{ctl};
        kill 'KILL', $kid->{pid};
        $kid->{state} = 'dead';
    }
    @{$srv->{spares}} = ();
    return;
}

sub _final_exit {
    close $srv->{watchi} if $srv->{watchi};
    POSIX::_exit(0);
}

#---------------------------------------------------------------- memory

# Ending a call costs page faults: perl's global destruction (and the
# per-call code) writes to pages that the executor still shares,
# copy-on-write, with the server. A small server's idle spares copy
# their pages in advance ('prefault'); a large server instead asks for
# transparent huge pages, which make forking and ending an executor cost
# per 2 MB instead of per 4 kB page.
sub _memory_plan {
    my $o = $srv->{opts};
    return unless $SYS_madvise;
    my @regions = _writable_regions();
    my $total = 0;
    $total += $_->[1] - $_->[0] for @regions;
    # Spares prefault up to 'prefault' MB whatever the size (see
    # _prefault_plan); a server larger than that keeps its heap in huge
    # pages as well, and does not repopulate its own (_own_prefault).
    $srv->{prefault} = 1 if $o->{prefault} > 0;
    $srv->{small} = $total <= $o->{prefault} * (1 << 20);
    if ($o->{hugepages} && !$srv->{small}) {
        local $!;
        for my $r (grep { $_->[2] eq '[heap]' || $_->[2] eq '' } @regions) {
            my $start = ($r->[0] + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
            my $end   = $r->[1] & ~(HUGE_PAGE - 1);
            next if $end <= $start;
            syscall($SYS_madvise, $start, $end - $start, MADV_HUGEPAGE);
            # 2 MB at a time. The kernel declines some while the pages
            # are still shared with the child serving the first call
            # or not yet on its LRU lists: those are tried once more
            # when the server is next idle (_collapse_retry).
            for (my $at = $start; $at < $end; $at += HUGE_PAGE) {
                next if syscall($SYS_madvise, $at, HUGE_PAGE, MADV_COLLAPSE) == 0;
                push @{$srv->{collapse_retry}}, $at;
            }
        }
    }
    return;
}

# True if a connection waits to be accepted: idle-time work stops for it.
sub _call_waiting {
    return 0 unless $srv->{listen};
    my @poll = (fileno($srv->{listen}), POLLIN);
    return IO::Poll::_poll(0, @poll) > 0;
}

# Each declined range is tried once more, a range at a time, stopping
# for a call that is waiting (about 0.3 ms a range).
sub _collapse_retry {
    my $todo = $srv->{collapse_retry} or return;
    local $!;
    while (defined(my $at = shift @$todo)) {
        syscall($SYS_madvise, $at, HUGE_PAGE, MADV_COLLAPSE);
        last if _call_waiting();
    }
    delete $srv->{collapse_retry} unless @$todo;
    return;
}

# The process's private writable mappings as [start, end, name], the
# interpreter's heap first.
sub _writable_regions {
    no warnings 'portable';     # 64-bit addresses
    open(my $maps, '<', '/proc/self/maps') or return;
    my (@heap, @rest);
    while (my $line = <$maps>) {
        my ($start, $end, $perm, $name) =
            $line =~ /\A([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+ *(.*?)\n?\z/
            or next;
        next unless $perm eq 'rw-p';
        next if $name =~ /\A\[(?:vvar|vdso|vsyscall|stack)/;
        push @{$name eq '[heap]' ? \@heap : \@rest}, [hex $start, hex $end, $name];
    }
    return (@heap, @rest);
}

# Prefaulting takes CPU time: spares are told to start only while no
# call is running, so that under load they do not compete with calls.
sub _allow_prefault {
    return if _busy_count();
    for my $kid (grep { !$_->{prefault_sent} } @{$srv->{spares}}) {
        $kid->{prefault_sent} = 1;
        send($kid->{ctl}, 'P', MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    return;
}

# In a spare: waits for the server's go-ahead ('P') or a call; after the
# go-ahead, prefaults until done or a call arrives.
sub _prefault_when_allowed {
    my ($ctl, $budget) = @_;
    for (;;) {
        my @poll = (fileno($ctl), POLLIN);
        my $n = IO::Poll::_poll(-1, @poll);
        next if $n < 0 && $! == EINTR;
        return if $n <= 0;
        my $got = recv($ctl, my $byte, 1, MSG_PEEK);
        return unless defined $got && $byte eq 'P';
        sysread($ctl, $byte, 1);
        syswrite($ctl, 'D') if _prefault($ctl, $budget);
        return;
    }
}

# What a spare prefaults, at most 'prefault' MB: the small regions
# whole (the interpreter's and libraries' data), then the heap, then
# larger anonymous mappings; of a region too large for what is left,
# its start and its end, half each (for the heap: the interpreter's own
# structures, allocated first, and where new allocations come from).
# The middle of a large heap is what the per-call code rarely writes:
# the data preloaded for it to read.
sub _prefault_plan {
    my ($budget) = @_;
    my @regions = _writable_regions();
    my @heap = grep { $_->[2] eq '[heap]' } @regions;
    my @rest = sort { ($a->[1] - $a->[0]) <=> ($b->[1] - $b->[0]) }
               grep { $_->[2] ne '[heap]' } @regions;
    # Large anonymous mappings (big arrays and strings) come after the
    # heap: they are more likely the preloaded data itself.
    my @small = grep { $_->[1] - $_->[0] <= HUGE_PAGE } @rest;
    my @large = grep { $_->[1] - $_->[0] >  HUGE_PAGE } @rest;
    my @plan;
    for my $r (@small, @heap, @large) {
        my ($start, $end) = @$r;
        last if $budget < 4096;
        if ($end - $start <= $budget) {
            push @plan, [$start, $end];
            $budget -= $end - $start;
            next;
        }
        my $half = int($budget / 2) & ~(HUGE_PAGE - 1);
        $half = int($budget / 2) & ~4095 if $half < HUGE_PAGE;
        push @plan, [$start, $start + $half], [$end - $half, $end];
        $budget = 0;
    }
    return @plan;
}

# In an idle spare: copy the shared pages now, a chunk at a time, and
# stop as soon as a call arrives on the control socket. Each whole 2 MB
# of a region is copied into a private transparent huge page where the
# kernel can (MADV_COLLAPSE): the call then takes no copy-on-write
# faults there, and ending the executor frees one page per 2 MB instead
# of 512, which is most of what an executor's exit costs the caller.
# The rest, and every 2 MB the kernel will not collapse, is populated
# in 4 kB pages.
sub _prefault {
    my ($ctl, $budget) = @_;
    local $!;
    for my $r (_prefault_plan($budget)) {
        my ($at, $end) = @$r;
        my $collapse = 1;
        while ($at < $end) {
            my @poll = (fileno($ctl), POLLIN);
            return 0 if IO::Poll::_poll(0, @poll) != 0;
            if ($collapse && !($at & (HUGE_PAGE - 1)) && $end - $at >= HUGE_PAGE) {
                # A huge page still shared with the server (a large
                # server keeps its heap in them) is split first:
                # collapsing a range the server maps whole changes nothing.
                syscall($SYS_madvise, $at, 4096, MADV_POPULATE_WRITE);
                if (syscall($SYS_madvise, $at, HUGE_PAGE, MADV_COLLAPSE) == 0) {
                    $at += HUGE_PAGE;
                    next;
                }
                # Unsupported (an old kernel, THP off, a file mapping) or
                # short of memory: the rest of this region in 4 kB pages.
                $collapse = 0;
            }
            my $len = $end - $at;
            $len = PREFAULT_CHUNK if $len > PREFAULT_CHUNK;
            my $boundary = ($at + HUGE_PAGE) & ~(HUGE_PAGE - 1);
            $len = $boundary - $at if $collapse && $at + $len > $boundary;
            last if syscall($SYS_madvise, $at, $len, MADV_POPULATE_WRITE) < 0;
            $at += $len;
        }
    }
    return 1;
}

# The server's own side of the same cost: after each fork its pages are
# copy-on-write too, and the first write to each (its event loop, the
# next call's accept) takes a fault. Once the newest spare has copied
# what it shares ('D'), the server holds the only mapping of most of
# its pages, and populating them for writing makes them writable again
# without copying. Done only while idle, stopped by a call.
sub _own_prefault {
    local $!;
    for my $r (_writable_regions()) {
        my ($at, $end) = @$r;
        while ($at < $end) {
            return if _call_waiting();
            my $len = $end - $at;
            $len = PREFAULT_CHUNK if $len > PREFAULT_CHUNK;
            last if syscall($SYS_madvise, $at, $len, MADV_POPULATE_WRITE) < 0;
            $at += $len;
        }
    }
    return;
}

#---------------------------------------------------------------- autoreload

sub _autoreload_init {
    my $o = $srv->{opts};
    my @files = ($srv->{script});
    if ($o->{autoreload_inc}) {
        push @files, grep { defined && !ref && length } values %INC;
    }
    push @files, @{$o->{autoreload_extra}}, @also_check;
    my %seen;
    @files = grep { defined && !ref && length && !$seen{$_}++ } @files;
    $srv->{ar_files}  = \@files;
    $srv->{unwatched} = \@files;
    $srv->{wd_file}   = {};
    $srv->{wd_dir}    = {};

    my $ifd = $SYS_inotify_init1
            ? syscall($SYS_inotify_init1, IN_NONBLOCK | IN_CLOEXEC) : -1;
    if ($ifd >= 0 && open(my $ifh, '<&=', $ifd)) {
        $srv->{inotify} = $ifh;
        my @unwatched;
        for my $f (@files) {
            my $file_ok = _watch_file($f);
            my $file_missing = !$file_ok && ($! == ENOENT || $! == ENOTDIR);
            my $dir_ok = _watch_dir($f);
            push @unwatched, $f unless $file_ok || ($file_missing && $dir_ok);
        }
        $srv->{unwatched} = \@unwatched;
    } elsif ($ifd >= 0) {
        POSIX::close($ifd);
    }
    _autoreload_check($srv->{ar_files});
    return;
}

sub _add_watch {
    my ($path, $mask) = @_;
    my $wd = syscall($SYS_inotify_add_watch, fileno($srv->{inotify}),
                     "$path", $mask + 0);
    return $wd >= 0 ? $wd : undef;
}

sub _watch_file {
    my ($f) = @_;
    my $wd = _add_watch($f, FILE_EVENTS);
    return 0 unless defined $wd;
    $srv->{wd_file}{$wd}{$f} = 1;
    return 1;
}

sub _watch_dir {
    my ($f) = @_;
    my ($dir, $base) = $f =~ m{\A(.*/)?([^/]+)\z} or return 0;
    $dir = defined $dir ? ($dir eq '/' ? '/' : substr($dir, 0, -1)) : '.';
    $dir = '/' if $dir eq '';
    my $wd = _add_watch($dir, DIR_EVENTS);
    return 0 unless defined $wd;
    $srv->{wd_dir}{$wd}{$base}{$f} = 1;
    return 1;
}

# One non-blocking read of the inotify queue; stat only when needed.
sub _autoreload_poll {
    return if $srv->{quitting};
    my ($relevant, %touched) = (0);
    if (my $ifh = $srv->{inotify}) {
        for (;;) {
            my $got = sysread($ifh, my $buf, 65536);
            if (!defined $got) {
                last if $! == EAGAIN || $! == EWOULDBLOCK;
                next if $! == EINTR;
                _log('warning', "$srv->{script}: reading inotify: $!");
                $relevant = 1;
                last;
            }
            last unless $got;
            $relevant = 1 if _inotify_events($buf, \%touched);
        }
    }
    if ($relevant) {
        _watch_file($_) for keys %touched;
        _autoreload_check($srv->{ar_files});
    } elsif (@{$srv->{unwatched}}) {
        _autoreload_check($srv->{unwatched});
    }
    return;
}

# Parses a buffer of inotify events; true if any concerns a checked file.
sub _inotify_events {
    my ($buf, $touched) = @_;
    my $relevant = 0;
    my $off = 0;
    while ($off + 16 <= length $buf) {
        my ($wd, $mask, undef, $len) = unpack 'iIII', substr($buf, $off, 16);
        my $name = substr($buf, $off + 16, $len);
        $off += 16 + $len;
        $name =~ s/\0+\z//;
        if ($mask & IN_Q_OVERFLOW) {
            $relevant = 1;
            $touched->{$_} = 1 for @{$srv->{ar_files}};
        } elsif (my $files = $srv->{wd_file}{$wd}) {
            $relevant = 1;
            $touched->{$_} = 1 for keys %$files;
            delete $srv->{wd_file}{$wd} if $mask & IN_IGNORED;
        } elsif (my $names = $srv->{wd_dir}{$wd}) {
            my $files = $names->{$name} or next;
            $relevant = 1;
            $touched->{$_} = 1 for keys %$files;
        }
    }
    return $relevant;
}

sub _autoreload_check {
    my ($files) = @_;
    for my $f (@$files) {
        my @st = Time::HiRes::stat($f);
        unless (@st) {
            _log('warning', "$srv->{script}: autoreload: cannot stat $f: $!")
                unless $! == ENOENT || $! == ENOTDIR;
            next;
        }
        next unless _newer_than_start($st[9]);
        _log('info', "$srv->{script}: $f changed since startup, quitting to reload");
        _begin_quit();
        return;
    }
    return;
}

sub _newer_than_start {
    my ($mtime) = @_;
    my $secs = POSIX::floor($mtime);
    return 1 if $secs > $srv->{start_secs};
    return 0 if $secs < $srv->{start_secs};
    # A double holds only about 0.2 us at today's epoch: allow for that.
    return ($mtime - $secs) * 1e9 > $srv->{start_nsecs} + 1000;
}

#---------------------------------------------------------------- executor

# In a freshly forked child: drop everything the server holds.
sub _drop_server_state {
    for my $role (qw(listen watche watchi inotify)) {
        close $srv->{$role} if $srv->{$role};
    }
    for my $kid (values %{$srv->{kids}}) {
        close $kid->{ctl}  if $kid->{ctl};
        close $kid->{call} if $kid->{call};
        POSIX::close($kid->{pidfd}) if defined $kid->{pidfd};
    }
    _closelog();
    # Kept, not freed: freeing the server's tables would write to pages
    # this process still shares copy-on-write with the server, on every
    # call's critical path, for nothing.
    $retired_server_state = $srv;
    $srv = undef;
    return;
}

sub _executor_start {
    my ($call, $ctl) = @_;
    POSIX::setpgid(0, 0);
    my $o        = $srv->{opts};
    my $script   = $srv->{script};
    my $user_sig = $srv->{user_sig};
    my $budget   = $srv->{prefault} ? $o->{prefault} * (1 << 20) : 0;
    _drop_server_state();
    unless ($call) {
        $0 = "$script [prefork spare]";
        _prefault_when_allowed($ctl, $budget) if $budget;
        my $fd;
        do {
            $! = 0;
            $fd = IO::FDPass::recv(fileno $ctl);
        } while ($fd < 0 && $! == EINTR);
        POSIX::_exit(0) if $fd < 0;     # the server retired this spare
        open($call, '+<&=', $fd) or POSIX::_exit(127);
    }
    _serve_call($call, $o, $script, $ctl);
    for my $sig (qw(CHLD ALRM)) {
        $SIG{$sig} = $user_sig->{$sig} // 'DEFAULT';
    }
    return;
}

sub _protocol_error { return { message => $_[0] } }
sub _client_went_away { return { quiet => 1 } }

sub _serve_call {
    my ($call, $o, $script, $ctl) = @_;
    my (@fds, $env, $args);
    my $ok = eval {
        local $SIG{ALRM} = sub {
            die _protocol_error("request not complete after $o->{request_timeout} s");
        };
        alarm($o->{request_timeout}) if $o->{request_timeout} > 0;
        my $byte = _read_exact($call, 1, 'initial byte');
        $byte eq "\0"
            or die _protocol_error(sprintf 'initial byte is 0x%02x, not 0x00', ord $byte);
        push @fds, _recv_fd($call, $_) for 0 .. 2;
        my $len = unpack 'N', _read_exact($call, 4, 'request length');
        $len <= MAX_REQUEST
            or die _protocol_error("request length $len exceeds " . MAX_REQUEST);
        ($env, $args) = _parse_request(_read_exact($call, $len, 'request'));
        alarm(0);
        1;
    };
    alarm(0);
    unless ($ok) {
        my $e = $@;
        unless (ref $e eq 'HASH' && $e->{quiet}) {
            my $msg = ref $e eq 'HASH' ? $e->{message} : "$e";
            _log('err', "$script: protocol error: $msg");
        }
        # Shutting the socket down means the client gets no status at all.
        shutdown($call, SHUT_RDWR);
        POSIX::_exit(ref $e eq 'HASH' && $e->{quiet} ? 0 : 127);
    }

    # Whole request in hand: wait for one of the max_servers running
    # slots.  Anything but 'G' means the server dropped this call.
    my ($sent, $got, $go) = (syswrite($ctl, 'R'), undef, '');
    do { $got = sysread($ctl, $go, 1) } while (!defined $got && $! == EINTR);
    POSIX::_exit(0) unless $sent && $got && $go eq 'G';
    close $ctl;

    unless (open(STDIN, '<&', $fds[0]) && open(STDOUT, '>&', $fds[1])
            && open(STDERR, '>&', $fds[2])) {
        _log('err', "$script: installing the caller's stdio: $!");
        shutdown($call, SHUT_RDWR);
        POSIX::_exit(127);
    }
    POSIX::close($_) for @fds;
    close $call;
    _closelog();

    %ENV  = %$env;
    $0    = $args->[1];
    @ARGV = @{$args}[2 .. $#$args];
    $SIG{INT}  = 'DEFAULT';
    $SIG{PIPE} = 'DEFAULT';
    POSIX::sigprocmask(POSIX::SIG_UNBLOCK(),
                       POSIX::SigSet->new(POSIX::SIGINT(), POSIX::SIGPIPE()));
    _reseed();
    # Leftovers of the server's own work must not leak into the call
    # ($? in particular decides die's exit status).
    $? = 0;
    $@ = '';
    $! = 0;
    return;
}

sub _read_exact {
    my ($fh, $want, $what) = @_;
    my $buf = '';
    while (length $buf < $want) {
        my $chunk = $want - length $buf;
        $chunk = READ_CHUNK if $chunk > READ_CHUNK;
        my $n = sysread($fh, $buf, $chunk, length $buf);
        if (!defined $n) {
            next if $! == EINTR;
            die _client_went_away() if $! == ECONNRESET;
            die _protocol_error("reading $what: $!");
        }
        die _client_went_away() unless $n;
    }
    return $buf;
}

sub _recv_fd {
    my ($call, $which) = @_;
    my $fd;
    do {
        $! = 0;
        $fd = IO::FDPass::recv(fileno $call);
    } while ($fd < 0 && $! == EINTR);
    return $fd if $fd >= 0;
    die _client_went_away() if $! == ECONNRESET;
    die _protocol_error("receiving fd $which: $!") if $!;
    # Either EOF or a byte that carried no fd: EOF stays EOF on a re-read.
    my $peer = recv($call, my $next, 1, MSG_PEEK | MSG_DONTWAIT);
    die _client_went_away() if defined $peer && $next eq '';
    die _protocol_error("message for fd $which carried no file descriptor");
}

sub _parse_request {
    my ($req) = @_;
    $req =~ /\0\z/ or die _protocol_error('request does not end with NUL');
    my @strings = split /\0/, substr($req, 0, -1), -1;
    my %env;
    for (;;) {
        @strings or die _protocol_error('request has no end of environment');
        my $entry = shift @strings;
        last if $entry eq '';
        my $eq = index $entry, '=';
        $eq >= 0 or die _protocol_error('environment entry without "="');
        $env{substr $entry, 0, $eq} = substr $entry, $eq + 1;
    }
    @strings >= 2 or die _protocol_error(
        'request has ' . scalar(@strings)
        . ' argument strings; interpreter and script are required');
    return (\%env, \@strings);
}

sub _reseed {
    my $seed;
    if (open(my $rnd, '<:raw', '/dev/urandom')) {
        my $got = sysread($rnd, my $bytes, 4);
        $seed = unpack 'L', $bytes if defined $got && $got == 4;
        close $rnd;
    }
    defined $seed ? srand($seed) : srand();
    return;
}

1;

__END__

=head1 NAME

Proc::Prefork::Interp - run a Perl script as a prefork-interp server

=head1 SYNOPSIS

    #!/usr/bin/prefork-interp -U,perl
    use strict;
    use Proc::Prefork::Interp;

    use Some::Slow::Module;          # loaded once, by the server
    my $table = build_big_table();   # computed once

    prefork_initialisation_complete(max_servers => 8);

    # From here on: once per invocation, in a fresh process, with the
    # caller's stdin/stdout/stderr, @ARGV, %ENV and $0.
    print lookup($table, @ARGV);

=head1 DESCRIPTION

C<prefork-interp> is a small client program named in a script's C<#!>
line. The first time the script is run, the client starts it in the
ordinary way; the script loads whatever it needs and then calls
C<prefork_initialisation_complete>, which turns it into a persistent
server listening on a Unix socket. Later invocations of the script only
run the client, which connects to that server and has the per-call part
of the script run on its behalf. The cost of loading is paid once.

Each call runs in its own process, forked from the initialised server,
so calls cannot see each other's state and a call that crashes harms
nothing else. Apart from speed, a call behaves as if the script had
been run directly: same standard streams (the very same open files),
same arguments, same environment, same exit status, including death by
a signal, which the client reproduces.

=head1 FUNCTIONS

Both functions are exported by default.

=head2 prefork_initialisation_complete(%options)

Marks the end of the script's initialisation.

When the script was not started by prefork-interp (the environment
variable C<PREFORK_INTERP> is absent) this returns at once and does
nothing else: the script runs standalone, with C<@ARGV> and everything
else untouched.

Under prefork-interp the calling process (the I<setup>) forks and exits
with status 0; its child becomes the server: it starts a new session,
puts its standard streams on F</dev/null> and from then on reports
problems only to syslog. The function then returns once in every
I<executor> process, that is once per call, and never in the setup or
the server. The per-call code after it runs in the executor; whatever
way it ends (C<exit>, C<die>, falling off the end, a signal, or
C<exec> of another program) is reported to the client as the wait
status.

It croaks (in the setup, so the message reaches the caller's stderr)
if C<PREFORK_INTERP> is malformed, names a file descriptor that is not
open, or an unknown or invalid option is given.

=head2 prefork_autoreload_also_check(@paths)

Adds files to the set checked for automatic reloading (see
L</AUTOMATIC RELOADING>). Call it before
C<prefork_initialisation_complete>. The paths need not exist yet.

=head1 OPTIONS

=over 4

=item max_servers => N

At most I<N> calls run at once (default 4); further calls wait, having
sent their request (see C<max_pending>), or in the socket's backlog,
until one ends. A negative value means no limit;
0 is taken as 1.

=item max_pending => N

At most I<N> accepted calls are still in the protocol exchange or
waiting for a running slot (default 16, at least 1). A call that
arrives while a running slot is free takes that slot at once, so that
its executor starts the moment it has the request; a call that arrives
while all C<max_servers> slots are taken waits for one after its
exchange. Clients that connect and never finish the exchange therefore
cannot hold slots for long: when all I<N> places are taken and another
client is waiting, or when a call with its whole request is waiting for
a running slot, the oldest call still in the exchange after
C<pending_grace> seconds is dropped (logged as a warning) to make room.
The server's executors therefore number at most C<max_servers> +
C<max_pending> + C<prefork_spares> (plus dropped ones until they are
reaped, which is immediate).

=item pending_grace => SECONDS

How long a call may take over the protocol exchange before it may be
dropped for another (default 1). A well-behaved client finishes in well
under a millisecond; a flood of I<F> connections that never finish
delays a well-behaved call by about I<F> / C<max_pending> *
C<pending_grace> seconds. Unless dropped, an exchange may still take up
to C<request_timeout>.

=item prefork_spares => N

How many idle executors the server keeps forked in advance (default 1).
A call is handed to one of them, so no fork of the (perhaps large)
server process happens while a client waits; the replacement is forked
once no call is in the middle of its protocol exchange with the server. 0 forks one executor per call instead, when the
call arrives. Idle spares do not count against C<max_servers>.

=item prefault => MB

How much of its memory each idle spare copies in advance, in
megabytes (default 64; 0 turns prefaulting off). Ending a call, and
perl's global destruction in particular, writes to memory the executor
still shares copy-on-write with the server; each first write to a page
costs a page fault and a copy on the caller's time. So, while no call
is running, each idle spare copies its pages in advance, a chunk at a
time, stopping as soon as a call arrives. Each whole 2 MB of a region
is copied into a private transparent huge page where the kernel can
(C<madvise(MADV_COLLAPSE)>, Linux 6.1 or later), the rest in 4 kB pages
(C<MADV_POPULATE_WRITE>, Linux 5.14 or later): with huge pages the
executor's exit also frees one page per 2 MB instead of 512, and that
teardown happens before the caller gets its exit status. A server
larger than I<MB> has the small regions copied whole (the interpreter's
and the libraries' data), then the start of its heap (the interpreter's
own structures) and its end (where new allocations come from), half
each; the middle of a large heap, typically the data preloaded for the
calls to read, stays shared. Once a spare of a server no larger than
I<MB> has finished, the server makes its own pages writable again the
same way, so that its next accept takes no page faults. Nothing the
per-call code sees changes. The cost: every idle spare that has
finished holds a private copy of up to I<MB> (rounded up to whole 2 MB
pages, times C<prefork_spares>), and copying it takes CPU time (about
8 ms for 25 MB) while the server is otherwise idle.

=item hugepages => BOOL

For servers larger than C<prefault> (default true): at startup the
server asks for transparent huge pages for its heap (C<MADV_HUGEPAGE>,
and C<MADV_COLLAPSE> on Linux 6.1 or later, 2 MB at a time, the ranges
the kernel declines tried again once the server is idle), so that
forking an executor and ending it cost per 2 MB rather than per 4 kB
page. This takes some time once, at startup (about 1.5 ms per MB), and
may round memory use up to whole 2 MB pages.

=item idle_timeout => SECONDS

The server quits when no call is running and none has arrived for this
long (default 1000000). Negative: never.

=item request_timeout => SECONDS

How long an executor waits for a client to complete the request
(default 30); after that the call is abandoned. 0 disables the limit.

=item max_errors => N

The server quits when more than I<N> consecutive C<accept> calls fail
with unexpected errors (default 100).

=item log_facility => FACILITY

The syslog facility for the server's messages (default C<LOG_USER>).
An empty string turns syslog off altogether. Messages are logged with
the identity C<prefork-interp> and the process id, and start with the
script's path.

=item logger => CODEREF

If given, called as C<< $coderef->($priority, $message) >> for every
message instead of using syslog; C<$priority> is C<err>, C<warning> or
C<info>. It may be called in the server or in an executor, whose
standard streams may be those of the client or F</dev/null>: write to a
file of your own.

=item autoreload_inc => BOOL

Whether the files in C<%INC> are part of the autoreload set (default
true).

=item autoreload_extra => [PATHS]

More files for the autoreload set.

=back

=head1 STATE OF EACH CALL

When C<prefork_initialisation_complete> returns in an executor:

=over 4

=item *

C<STDIN>, C<STDOUT> and C<STDERR> are the caller's file descriptors 0,
1 and 2, on fds 0, 1 and 2.

=item *

C<%ENV> is exactly the caller's environment, C<$0> the script path the
caller used and C<@ARGV> the caller's arguments: what C<perl script
args...> would have given.

=item *

The process holds no file descriptor of the server (listening socket,
watcher pipes, other calls, control sockets, the syslog connection):
only 0, 1, 2 and whatever the script itself opened before the call.

=item *

It is the leader of a new process group, so that a call can be stopped
as a whole.

=item *

C<SIGINT> and C<SIGPIPE> have their default dispositions and are not
blocked, even if the server was started with them ignored. C<SIGCHLD>
and C<SIGALRM> are as the script left them during initialisation.

=item *

The random number generator is reseeded from F</dev/urandom>, and
C<$?>, C<$@> and C<$!> are cleared.

=back

If the client goes away while the call runs (its end of the connection
closes), the executor's process group gets C<SIGINT>, and C<SIGKILL>
half a second later if anything of it is still there. Background
processes that the per-call code leaves behind in its group are
otherwise left alone, as they would be after a standalone run.

Everything done during initialisation is shared, copy-on-write, by all
calls. Do not open connections to databases or other servers before
C<prefork_initialisation_complete>: every call would share them. Do not
read per-call inputs (arguments, environment, standard input) before
it either: those belong to the invocation that happened to start the
server.

=head1 AUTOMATIC RELOADING

The server quits (after finishing the calls it is running) when one of
the files it was started from changes, so that the next invocation
starts a new server with the new code. The checked set is C<$0>, the
files in C<%INC> (unless C<autoreload_inc> is false),
C<autoreload_extra> and the paths given to
C<prefork_autoreload_also_check>. A file counts as changed if it exists
and its modification time is later than the startup time the client
passed (the socket's modification time when the server was started); a
file that does not exist is fine.

Files are not examined on every call. The server asks inotify to watch
each file and its directory (editors often replace a file by renaming a
new one over it; a file that did not exist may appear) and, before
accepting each connection, reads any pending notifications without
waiting. Only when a notification concerns a checked file does it look
at modification times. Where inotify is not available, or a file could
not be watched, those files are examined before each accepted
connection instead.

The check is made before the waiting connection is accepted. When a
file has changed, the server closes its listening socket at once; the
waiting client sees its connection closed without a greeting and, as
prefork-interp clients do, starts a fresh server.

=head1 THE WATCHER

The client starts a watcher process alongside each server. Its stderr
arrives at the server: a message there is logged at C<err> and makes
the server quit; end of file means that the socket was removed or
replaced (a fresh start, C<--kill>, clean-up) and also makes it quit. A
quitting server stops accepting calls, ends its idle spares, waits for
the running calls to finish and report their status, and exits.

=head1 PROTOCOL AND COMPATIBILITY

The server speaks version 1 of the prefork-interp protocol, as the C
client of chiark-utils 7.x does, and takes its file descriptors from
C<PREFORK_INTERP>: C<v1,SECS.NSECS> then
C<LISTEN,CALL,WATCH,WATCH>. The two watcher descriptors are told apart
by their access mode (the read end is the watcher's stderr, the write
end its stdin); when that does not decide it, they are taken in
chiark-utils' order, stdin first. Further items and words are ignored.

This server always takes the request's argument strings as
I<interpreter, script, arguments...>, the layout chiark-utils' client
sends, and strips the first two itself, setting C<$0> from the second;
so with either client C<@ARGV> is exactly the script's arguments. A
request with fewer than two argument strings is refused.

Extension data in the greeting is sent only to clients that announce,
with the item C<xdata> in the first word of C<PREFORK_INTERP> (as in
C<v1,SECS.NSECS,xdata>), that they decode its length correctly: our
client does; chiark-utils' client reads that length in host byte order
and would wait for gigabytes, so it gets none. The extension data is
then the text C<full-argv>, a list of space-separated feature names
telling the client that the server strips interpreter and script
itself. A client that sees no C<full-argv> (for example when
chiark-utils' module is serving, which puts every string into
C<@ARGV>) should send only the script's arguments.

A malformed request (a first byte other than 0, a message without a
file descriptor, an environment entry without C<=>, a request not
ending in NUL, one longer than 32 MiB, or one not completed within
C<request_timeout>) is logged; the connection is closed without a
status. A connection whose peer runs under a different user id than
the server (as reported by C<SO_PEERCRED>) is refused and logged at
C<warning>.

=head1 PERFORMANCE TIPS

Keep large preloaded data in package variables (C<our %table>), not in
file-scoped lexicals (C<my %table> at the top of the script): when each
call's process ends, perl frees the main program's lexicals, which for
a big structure means tens of milliseconds of writes to copy-on-write
pages in every call; package variables are left alone. Ending the
per-call code with C<POSIX::_exit> after flushing skips perl's teardown
altogether, but also skips C<END> blocks and C<DESTROY> methods.

=head1 LIMITATIONS

Linux only: it relies on C</proc>-style semantics, C<SO_PEERCRED>,
C<pidfd_open> (with a fallback on C<SIGCHLD> for kernels before 5.3)
and inotify (with a fallback on checking modification times).

Perl's hash randomisation seed is fixed when the interpreter starts, so
all calls of one server share it.

Files opened by the initialisation, and their seek positions, are
shared by all calls, as with any fork.

Modules loaded lazily by the per-call code are loaded again in every
call and are not part of the autoreload set.

If the per-call code calls C<syslog>, it must call C<openlog> itself;
the executor closes the server's syslog connection.

=head1 SEE ALSO

prefork-interp(1), L<IO::FDPass>, L<Sys::Syslog>.

=head1 LICENCE

Part of prefork-interp. Licensed under the GNU General Public License,
version 3 or later.

=cut
