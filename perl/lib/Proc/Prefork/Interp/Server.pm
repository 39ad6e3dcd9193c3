package Proc::Prefork::Interp::Server;

# The server: glue between the parts. It owns the listening socket and
# the watcher's pipes, accepts and greets calls and hands them to the
# pool, and assembles the loop from what each part contributes.

use strict;
use warnings;

use Errno qw(EAGAIN EWOULDBLOCK EINTR ECONNABORTED EMFILE ENFILE ENOBUFS ENOMEM);
use IO::Poll qw(POLLIN);
use POSIX ();
use Socket qw(SOL_SOCKET SO_PEERCRED MSG_NOSIGNAL MSG_DONTWAIT);
use Time::HiRes ();
use Proc::Prefork::Interp::Autoreload ();
use Proc::Prefork::Interp::CallerState ();
use Proc::Prefork::Interp::Executor ();
use Proc::Prefork::Interp::PeerCreds ();
use Proc::Prefork::Interp::Linux qw(poll_in);
use Proc::Prefork::Interp::Log qw(log_msg);
use Proc::Prefork::Interp::Loop ();
use Proc::Prefork::Interp::Memory ();
use Proc::Prefork::Interp::Pool ();
use Proc::Prefork::Interp::Protocol ();
use Proc::Prefork::Interp::QuitSignals ();
use Proc::Prefork::Interp::Relay ();
use Proc::Prefork::Interp::Stdio ();
use Proc::Prefork::Interp::Title ();

# Seconds without accepting after running out of descriptors, unless
# a call ends first.
use constant FD_BACKOFF => 0.25;

# opts: validated options; env: Protocol::parse_env's result; fh: the
# handles listen, call, watchi, watche; greeting: the bytes every call
# starts with; files: the autoreload set.
sub new {
    my ($class, %args) = @_;
    my $self = bless {
        opts     => $args{opts},
        env      => $args{env},
        greeting => $args{greeting},
        declined => $args{declined},
        offered  => $args{offered} // 0,
        files    => $args{files},
        script   => $args{script} // $0,
        listen   => $args{fh}{listen},
        watche   => $args{fh}{watche},
        watchi   => $args{fh}{watchi},
        first    => $args{fh}{call},
        errors   => 0,
        quitting => 0,
        quit_mask => $args{quit_mask},  # see QuitSignals::hold
        # The script's handlers of signals the server takes for itself:
        # its calls get them back (Executor).
        user_sig => { map { $_ => $SIG{$_} } qw(CHLD ALRM TERM HUP) },
    }, $class;
    $self->{memory} = Proc::Prefork::Interp::Memory->new(
        opts => $self->{opts}, call_waiting => sub { $self->_call_waiting });
    $self->{pool} = Proc::Prefork::Interp::Pool->new(
        opts         => $self->{opts},
        new_executor => sub { $self->_new_executor(@_) });
    return $self;
}

# In the process that is to be the server. Returns only in a forked
# executor, with its Executor object.
sub run {
    my ($self) = @_;
    POSIX::setsid();
    $self->{quit_signals} = Proc::Prefork::Interp::QuitSignals->new(
        before => $self->{quit_mask},
        on_signal => sub {
            $self->begin_quit;
            log_msg('info', "$_[0] received, quitting");
        });
    Proc::Prefork::Interp::Stdio::to_devnull()
        or log_msg('err', "putting stdio on /dev/null: $!");
    # Status writes to vanished clients must not kill the server.
    $SIG{PIPE} = 'IGNORE';
    $SIG{CHLD} = 'DEFAULT';
    # Room for every call's descriptors (calls get their caller's limit).
    Proc::Prefork::Interp::CallerState::raise_server_nofile();

    my $executor = $self->_dispatch(delete $self->{first});
    return $executor if $executor;
    $self->{memory}->start;
    $self->{autoreload} = Proc::Prefork::Interp::Autoreload->new(
        files       => $self->{files},
        start_secs  => $self->{env}{secs},
        start_nsecs => $self->{env}{nsecs},
        on_change   => sub { $self->begin_quit });
    $self->{autoreload}->check_all;
    # [calls served] the title carries the count (Title.pm).
    $0 = Proc::Prefork::Interp::Title::server($self->{script}, $self->{calls});
    return $self->_loop->run;
}

sub _loop {
    my ($self) = @_;
    my ($pool, $memory) = @$self{qw(pool memory)};
    my $loop = Proc::Prefork::Interp::Loop->new(on_poll_error => sub {
        log_msg('err', "poll failed: $_[0]; quitting");
        $self->begin_quit;
    });
    $loop->step(sub { $pool->reap_unwatched; return $pool->replenish });
    $loop->step(sub {
        $memory->collapse_retry if $memory->collapse_todo && !$pool->busy_count;
        return;
    });
    $loop->step(sub { $self->_final_exit if $self->{quitting} && $pool->empty; return });
    $loop->step(sub { $pool->check_granted; $pool->start_ready; return });
    # Handlers run in this order: children first (a reaped call frees
    # its slot before a new one is accepted), the listener last (the
    # watcher or a changed file stops it).
    $loop->source(sub { $pool->source(@_) });
    $loop->source(sub { $self->_watcher_source(@_) });
    $loop->source(sub { $self->{quit_signals}->source(@_) });
    $loop->source(sub { $self->{autoreload}->source(@_) });
    $loop->source(sub { $self->_listen_source(@_) });
    $loop->after_step(sub { $pool->escalate_kills });
    $loop->after_step(sub { $self->_quit_if_idle });
    $self->{loop} = $loop;
    return $loop;
}

#---------------------------------------------------------------- calls

sub _listen_source {
    my ($self, $now) = @_;
    my ($o, $pool) = @$self{qw(opts pool)};
    return ([]) unless $self->{listen};
    my (@watches, @deadlines);
    my $pause = $self->{fd_pause};
    if ($pause && ($now >= $pause->{until} || $pool->reaped != $pause->{reaped})) {
        undef $pause;
        delete $self->{fd_pause};
    }
    if ($pause) {
        # Out of descriptors: the connection waits in the backlog.
        push @deadlines, $pause->{until};
    } elsif ($pool->pending_count < $o->{max_pending} || $pool->evictable) {
        push @watches, [fileno($self->{listen}), POLLIN, sub { $self->_listen_readable }];
    } else {
        # Full: wake when the oldest pending call may be dropped.
        push @deadlines, $pool->eviction_time;
    }
    push @deadlines, $pool->last_active + $o->{idle_timeout}
        if !$pool->busy_count && $o->{idle_timeout} >= 0;
    return (\@watches, Proc::Prefork::Interp::Loop::earliest(@deadlines));
}

# Returns the Executor in a forked child.
sub _listen_readable {
    my ($self) = @_;
    my ($max, $pool) = ($self->{opts}{max_pending}, $self->{pool});
    return unless $self->{listen};
    # Stale code must not serve this call: check before accepting.
    $self->{autoreload}->poll;
    if ($self->{listen} && $pool->pending_count >= $max) {
        my $old = $pool->evictable;
        $pool->evict($old) if $old;
    }
    return unless $self->{listen} && $pool->pending_count < $max;
    # The descriptors a call needs in the server besides its socket
    # (a fresh child's control socket), before accepting it: a call
    # accepted without them would be lost.
    return $self->_out_of_fds unless $pool->reserve_fds;
    # And one for reading the caller's privileges (_dispatch). Short of
    # it, a call that ends frees some; with none running, nothing will:
    # the call is accepted without it, and declined if that reading
    # finds no fd (our client then runs the script directly).
    my $busy = $pool->busy_count;
    return $self->_out_of_fds unless $self->_reserve_peer_fd || !$busy;
    my $call;
    my $accepted = accept($call, $self->{listen});
    if (!$accepted && !$busy && ($! == EMFILE || $! == ENFILE)
        && $self->{peer_reserve}) {
        close delete $self->{peer_reserve};
        $accepted = accept($call, $self->{listen});
    }
    if ($accepted) {
        $self->{errors} = 0;
        $self->{fd_logged} = 0;
        return $self->_dispatch($call);
    }
    return if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR
           || $! == ECONNABORTED;
    return $self->_out_of_fds if $! == EMFILE || $! == ENFILE || $! == ENOBUFS
           || $! == ENOMEM;
    log_msg('warning', "accept failed: $!");
    if (++$self->{errors} > $self->{opts}{max_errors}) {
        log_msg('err', 'too many accept failures, quitting');
        $self->begin_quit;
    }
    return;
}

# An fd held (/dev/null) while the server waits for a call, and let go
# of just before it reads the caller's /proc status (PeerCreds::lacks):
# a server near its limit on open files (perl/t/16-nofile.t) still has
# that one number when accept has taken the last other one. True if
# held, false with $! set.
sub _reserve_peer_fd {
    my ($self) = @_;
    return 1 if $self->{peer_reserve};
    open(my $fh, '<', '/dev/null') or return 0;
    $self->{peer_reserve} = $fh;
    return 1;
}

# No descriptor (or memory) for another call: the listener is not
# polled until a call ends or FD_BACKOFF passes (the connection waits in
# the backlog), instead of spinning on a listener that stays readable.
# Logged once until a call is accepted again; not an accept error.
sub _out_of_fds {
    my ($self) = @_;
    log_msg('warning', "accept failed: $!; accepting again when a call "
            . 'ends (or in ' . FD_BACKOFF . ' s)') unless $self->{fd_logged}++;
    $self->{fd_pause} = { until => Time::HiRes::time() + FD_BACKOFF,
                          reaped => $self->{pool}->reaped };
    return;
}

# Checks an accepted (or the initial) call's peer, greets it and hands
# it to the pool. Returns the Executor in a forked child.
sub _dispatch {
    my ($self, $call) = @_;
    my $cred = getsockopt($call, SOL_SOCKET, SO_PEERCRED);
    # (read once: the checks below are given it)
    my @peer = $cred ? unpack('iII', $cred) : ();
    my ($peer_pid, $peer_uid) = @peer;
    if (!defined $peer_uid || $peer_uid != $>) {
        log_msg('warning', sprintf(
            'refused a call from pid %s uid %s (this server runs as uid %d)',
            $peer_pid // '?', $peer_uid // '?', $>));
        close $call;
        return;
    }
    # [caller-state] Nor other groups (SO_PEERCRED gid, SO_PEERGROUPS).
    if (my $why = Proc::Prefork::Interp::PeerCreds::differ($call, @peer)) {
        log_msg('warning', "refused a call from $why");
        close $call;
        return;
    }
    # Nor less privilege (capabilities, no-new-privs, seccomp): declined,
    # so that our client (under one -g name) runs the script itself
    # rather than take this server for a stale one and replace it.
    # (The reading needs one fd: the one held for it, let go of here.)
    close delete $self->{peer_reserve} if $self->{peer_reserve};
    if (my $why = Proc::Prefork::Interp::PeerCreds::lacks($call, @peer)) {
        log_msg('warning', "refused a call from $why");
        send($call, $self->{declined}, MSG_DONTWAIT | MSG_NOSIGNAL)
            if defined $self->{declined};
        close $call;
        return;
    }
    # An executor first (a spare, or one forked now). None can be made
    # (the user's process limit, no memory): the call is declined, so
    # that our client runs the script itself, as nothing of it ran.
    my ($taken, $executor) = $self->{pool}->hand_over($call);
    return $executor if $executor;
    unless ($taken) {
        log_msg('warning', 'declined a call: no process could be made for it');
        send($call, $self->{declined}, MSG_DONTWAIT | MSG_NOSIGNAL)
            if defined $self->{declined};
        close $call;
        return;
    }
    # The greeting goes out from here, at once, so that the client reads
    # it while the executor is still waking up. A fresh connection's
    # buffer always has room for it; failing means the client is gone,
    # which the executor finds too.
    send($call, $self->{greeting}, MSG_DONTWAIT | MSG_NOSIGNAL);
    # [calls served] counted for the title, which --list reads.
    $0 = Proc::Prefork::Interp::Title::server($self->{script}, ++$self->{calls});
    return;
}

# True if a connection waits to be accepted: idle-time work stops for it.
sub _call_waiting {
    my ($self) = @_;
    return 0 unless $self->{listen};
    return poll_in($self->{listen}, 0) > 0;
}

# In a freshly forked child: drop everything the server holds.
sub _new_executor {
    my ($self, $call, $ctl) = @_;
    # Copied before anything else here writes; a spare stops for a
    # call, a child forked for one copies it all.
    $self->{memory}->copy_ahead($call ? undef : $ctl);
    POSIX::setpgid(0, 0);
    # [signals] the server keeps SIGCHLD blocked for its notification fd
    Proc::Prefork::Interp::Relay::child_unblock() if $self->{pool}->relaying;
    $self->{quit_signals}->in_child;
    for my $role (qw(listen watche watchi peer_reserve)) {
        close $self->{$role} if $self->{$role};
    }
    $self->{autoreload}->stop if $self->{autoreload};
    $self->{pool}->close_fds;
    Proc::Prefork::Interp::Log::forked();
    return Proc::Prefork::Interp::Executor->new(
        call => $call, ctl => $ctl, opts => $self->{opts},
        script => $self->{script}, user_sig => $self->{user_sig},
        offered => $self->{offered}, retired => $self);
}

#---------------------------------------------------------------- quitting

sub _watcher_source {
    my ($self) = @_;
    my $fh = $self->{watche} or return ([]);
    return ([[fileno($fh), POLLIN, sub { $self->_watcher_readable; return }]]);
}

sub _watcher_readable {
    my ($self) = @_;
    return unless $self->{watche};
    my $got = sysread($self->{watche}, my $buf, 4096);
    if (!defined $got) {
        return if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
        log_msg('err', "reading from watcher: $!; quitting");
    } elsif ($got) {
        $buf =~ s/\s+\z//;
        log_msg('err', "watcher: $buf");
    } else {
        log_msg('info', 'socket removed or replaced, quitting');
    }
    $self->begin_quit;
    return;
}

sub _quit_if_idle {
    my ($self) = @_;
    my $o = $self->{opts};
    return unless $self->{listen} && !$self->{pool}->busy_count && $o->{idle_timeout} >= 0
        && Time::HiRes::time() >= $self->{pool}->last_active + $o->{idle_timeout};
    log_msg('info', "idle for $o->{idle_timeout} s, quitting");
    $self->begin_quit;
    return;
}

# Stops taking calls; the loop exits once every running call has ended.
sub begin_quit {
    my ($self) = @_;
    return if $self->{quitting}++;
    for my $role (qw(listen watche)) {
        close(delete $self->{$role}) if $self->{$role};
    }
    $self->{autoreload}->stop if $self->{autoreload};
    $self->{pool}->quit;
    return;
}

sub _final_exit {
    my ($self) = @_;
    close $self->{watchi} if $self->{watchi};
    POSIX::_exit(0);
}

1;
