package Proc::Prefork::Interp::Pool;

# The server's children and the state of each call, in one place.
#
#   spare ---hand_over---> pending ---got_request---> ready ---start_ready---> running
#     |                      |   \                                               ^
#     |                      |    grant_if_free --> granted ---got_request-------+
#     |                      |                        |
#     +--quit / failed-------+--evict-----------------+--> dead      (any) --reap--> gone
#
# A call that was free to run when it was handed over is 'granted': it
# holds a running slot, and its go-ahead travelled with the hand-off, so
# its executor starts the moment it has the request, without a round
# trip through the server. Until the request is in ('R') it is also
# still in its exchange, and may be dropped like any pending call.
#
# Calls accepted but not yet running ('pending', 'granted', 'ready')
# have their own bound, max_pending, so that connections that never
# complete the exchange cannot take the running slots of max_servers for
# long (see evictable).
#
# Every state change goes through _set_state, which keeps the counts.

use strict;
use warnings;

use Errno qw(EAGAIN EINTR ENOSYS EPIPE ECONNRESET);
use IO::FDPass ();
use IO::Poll qw(POLLIN);
use POSIX ();
use Socket qw(MSG_NOSIGNAL MSG_PEEK MSG_DONTWAIT AF_UNIX SOCK_STREAM PF_UNSPEC);
use Time::HiRes ();
use Proc::Prefork::Interp::Linux qw(pidfd_open POLLRDHUP);
use Proc::Prefork::Interp::Log qw(log_msg);
use Proc::Prefork::Interp::Loop ();
use Proc::Prefork::Interp::Protocol ();
use Proc::Prefork::Interp::Relay ();

use constant {
    SPARE   => 'spare',
    PENDING => 'pending',
    GRANTED => 'granted',
    READY   => 'ready',
    RUNNING => 'running',
    DEAD    => 'dead',
};
use constant STATES => (SPARE, PENDING, GRANTED, READY, RUNNING, DEAD);
use constant {
    KILL_GRACE    => 0.5,             # seconds between SIGINT and SIGKILL
    NOPIDFD_TICK  => 0.1,             # poll bound when a child has no pidfd
    FORK_RETRY    => 1,               # seconds to wait after a failed fork
    GRANTED_CHECK => 0.005,           # seconds after a hand-off to look for 'R'
};

# opts: the server's options; new_executor: called in a forked child as
# ->($call, $ctl), returns its Executor.
sub new {
    my ($class, %args) = @_;
    return bless {
        %args,
        kids        => {},      # pid => child record
        spares      => [],      # idle child records, oldest first
        count       => { map { $_ => 0 } STATES },
        last_active => Time::HiRes::time(),
        quitting    => 0,
    }, $class;
}

#---------------------------------------------------------------- counts

sub _set_state {
    my ($self, $kid, $state) = @_;
    $self->{count}{$kid->{state}}-- if defined $kid->{state};
    $self->{count}{$state}++;
    $kid->{state} = $state;
    return;
}

sub running_count {
    my $c = $_[0]{count};
    return $c->{+RUNNING} + $c->{+GRANTED};
}

sub pending_count {
    my $c = $_[0]{count};
    return $c->{+PENDING} + $c->{+GRANTED} + $c->{+READY};
}

sub busy_count {
    my ($self) = @_;
    return $self->pending_count + $self->{count}{+RUNNING};
}

sub empty       { return !%{$_[0]{kids}} }
sub reaped      { return $_[0]{reaped} // 0 }     # children reaped so far
sub last_active { return $_[0]{last_active} }

#---------------------------------------------------------------- spares

# How many spares to fork now (pure). Forking a large server takes a
# while and leaves its pages shared copy-on-write: it is done while no
# call needs the server for its protocol exchange, so it overlaps
# running calls instead of delaying them; after a failed fork, not
# before retry_at.
sub spares_to_fork {
    my (%s) = @_;
    return 0 if $s{quitting} || $s{pending} || $s{spares} >= $s{wanted};
    return 0 if $s{retry_at} && $s{now} < $s{retry_at};
    return $s{wanted} - $s{spares};
}

# Returns the Executor in a forked child.
sub replenish {
    my ($self) = @_;
    my $n = spares_to_fork(
        quitting => $self->{quitting}, pending => $self->pending_count,
        spares => scalar @{$self->{spares}}, wanted => $self->{opts}{prefork_spares},
        retry_at => $self->{spare_retry}, now => Time::HiRes::time());
    return unless $n;
    delete $self->{spare_retry};
    for (1 .. $n) {
        my ($kid, $executor) = $self->_fork(undef);
        return $executor if $executor;
        next if $kid;
        $self->{spare_retry} = Time::HiRes::time() + FORK_RETRY;
        return;
    }
    return;
}

# Forks a child that will run per-call code. With $call it serves that
# call at once ('pending'); without, it is a spare waiting for a call on
# its control socket. Returns ($kid) in the server, (undef, $executor)
# in the child, () on failure.
sub _fork {
    my ($self, $call) = @_;
    my ($ctl, $ctl_child) = @{delete $self->{reserved} // []};
    unless ($ctl || socketpair($ctl, $ctl_child, AF_UNIX, SOCK_STREAM, PF_UNSPEC)) {
        log_msg('err', "socketpair: $!");
        return;
    }
    my $pid = CORE::fork();
    unless (defined $pid) {
        log_msg('err', "fork: $!");
        return;
    }
    unless ($pid) {
        close $ctl;
        return (undef, $self->{new_executor}->($call, $ctl_child));
    }
    close $ctl_child;
    # Also done by the child; doing both avoids a race with kill(-pgrp).
    POSIX::setpgid($pid, $pid);
    my $kid = { pid => $pid, pidfd => $self->_pidfd($pid),
                since => Time::HiRes::time(), ctl => $ctl };
    $self->{kids}{$pid} = $kid;
    $self->_set_state($kid, $call ? PENDING : SPARE);
    push @{$self->{spares}}, $kid unless $call;
    return ($kid);
}

# Before a call is accepted: true if the server has the descriptors it
# will need for it besides its socket. A spare has its control socket
# already; otherwise one is made now and kept for _fork (false, with
# $!, if none can be made).
sub reserve_fds {
    my ($self) = @_;
    return 1 if @{$self->{spares}} || $self->{reserved};
    socketpair(my $ctl, my $ctl_child, AF_UNIX, SOCK_STREAM, PF_UNSPEC) or return 0;
    $self->{reserved} = [$ctl, $ctl_child];
    return 1;
}

sub _pidfd {
    my ($self, $pid) = @_;
    my $fd = pidfd_open($pid);
    return $fd if defined $fd;
    log_msg('warning', "pidfd_open: $!") unless $! == ENOSYS;
    # Without a pidfd, SIGCHLD interrupts poll and the poll is bounded.
    $SIG{CHLD} = sub { } unless ref $SIG{CHLD};
    return undef;
}

#---------------------------------------------------------------- transitions

# Hands an accepted call to a spare, or to a new child. Returns 1 once
# one has it, 0 if none could be made (the call is left to the caller,
# to decline), and (1, the Executor) in a forked child.
sub hand_over {
    my ($self, $call) = @_;
    $self->{last_active} = Time::HiRes::time();
    while (my $kid = shift @{$self->{spares}}) {
        my $ok = IO::FDPass::send(fileno($kid->{ctl}), fileno($call));
        my $err = "$!";
        if ($ok) {
            # The control socket stays: the executor reports on it when
            # it has the whole request (see start_ready).
            $self->_set_state($kid, PENDING);
            $kid->{since} = Time::HiRes::time();
            $kid->{call}  = $call;
            $self->_grant_if_free($kid);
            return 1;
        }
        close(delete $kid->{ctl});
        log_msg('warning', "spare [$kid->{pid}] could not take a call: $err");
        kill 'KILL', $kid->{pid};
        $self->_set_state($kid, DEAD);
    }
    my ($kid, $executor) = $self->_fork($call);
    return (1, $executor) if $executor;
    return 0 unless $kid;
    $kid->{call} = $call;
    $self->_grant_if_free($kid);
    return 1;
}

# Sends a just-handed-over call its go-ahead at once if a running slot
# is free.
sub _grant_if_free {
    my ($self, $kid) = @_;
    my $max = $self->{opts}{max_servers};
    return if $max >= 0 && $self->running_count >= $max;
    my $sent = send($kid->{ctl}, 'G', MSG_NOSIGNAL | MSG_DONTWAIT);
    $self->_set_state($kid, GRANTED) if defined $sent && $sent == 1;
    return;
}

# A pending call's executor has written to its control socket: 'R' when
# it has the whole request; EOF when it ended (reaped separately).
sub _ctl_readable {
    my ($self, $kid) = @_;
    my $got = sysread($kid->{ctl}, my $byte, 1);
    return if !defined $got && ($! == EAGAIN || $! == EINTR);
    # [signals] 'S': as 'R', and the call relays signals from now on.
    if ($got && $byte eq 'S' && ($kid->{state} eq PENDING || $kid->{state} eq GRANTED)) {
        $self->_relay_begin($kid);
        $byte = 'R';
    }
    if ($got && $byte eq 'R' && $kid->{state} eq PENDING) {
        $self->_set_state($kid, READY);
        $kid->{since} = Time::HiRes::time();
        return;
    }
    if ($got && $byte eq 'R' && $kid->{state} eq GRANTED) {
        $self->_set_state($kid, RUNNING);
        close(delete $kid->{ctl});
        return;
    }
    close(delete $kid->{ctl});
    return;
}

# A granted call's executor starts on its own; its 'R' only tells the
# server that the exchange is over (and, when the client goes, whether
# the call may be interrupted or must be killed: see _client_gone).
# The server does not wake for it:
# waking would put the server on the CPU the executor has just become
# runnable on (the scheduler places a woken task near its waker), and
# the server's next step, forking a new spare, would then hold the
# call's executor off that CPU for as long as the fork takes. It reads
# the 'R' at its next pass instead: the call's end, another call, or
# GRANTED_CHECK after the hand-off, whichever comes first; from then on
# it waits for it as for any pending call's.
sub check_granted {
    my ($self) = @_;
    return unless $self->{count}{+GRANTED};
    for my $kid (grep { $_->{state} eq GRANTED && $_->{ctl} }
                 values %{$self->{kids}}) {
        while ($kid->{ctl} && $kid->{state} eq GRANTED) {
            my $got = recv($kid->{ctl}, my $byte, 1, MSG_PEEK | MSG_DONTWAIT);
            last unless defined $got;   # nothing yet (EAGAIN)
            $self->_ctl_readable($kid);
        }
    }
    return;
}

# Lets ready calls run while running slots are free, oldest first; a
# call stalled in its exchange while holding a slot makes room.
sub start_ready {
    my ($self) = @_;
    return unless $self->{count}{+READY};
    my $max = $self->{opts}{max_servers};
    for my $kid ($self->_oldest_first(READY)) {
        if ($max >= 0 && $self->running_count >= $max) {
            my $stalled = $self->_stalled_granted or last;
            $self->evict($stalled);
        }
        my $sent = send($kid->{ctl}, 'G', MSG_NOSIGNAL);
        close(delete $kid->{ctl});
        $self->_set_state($kid, defined $sent && $sent == 1 ? RUNNING : DEAD);
    }
    return;
}

# Drops a call that has not finished its exchange, to make room.
sub evict {
    my ($self, $kid) = @_;
    log_msg('warning', "dropped call [$kid->{pid}]: protocol exchange not "
            . "complete after $self->{opts}{pending_grace} s and "
            . "$self->{opts}{max_pending} calls pending");
    kill 'KILL', -$kid->{pid};
    kill 'KILL', $kid->{pid};
    close(delete $kid->{ctl}) if $kid->{ctl};
    close(delete $kid->{call}) if $kid->{call};
    $self->_set_state($kid, DEAD);
    return;
}

# Stops taking calls: the idle spares end.
sub quit {
    my ($self) = @_;
    $self->{quitting} = 1;
    for my $kid (@{$self->{spares}}) {
        close(delete $kid->{ctl}) if $kid->{ctl};
        kill 'KILL', $kid->{pid};
        $self->_set_state($kid, DEAD);
    }
    @{$self->{spares}} = ();
    return;
}

# A child has ended (or waitpid says it is not ours): the call's
# status goes to its client, and the record goes.
sub reap {
    my ($self, $kid) = @_;
    return unless $self->{kids}{$kid->{pid}};    # reaped earlier this pass
    my $got = waitpid($kid->{pid}, POSIX::WNOHANG()
        | ($kid->{signals} ? Proc::Prefork::Interp::Relay::wait_flags() : 0));
    return if $got == 0;
    # [signals] a stop or continue goes to the client; the call goes on.
    return if $got == $kid->{pid} && $kid->{signals}
              && $self->_relay_change($kid, ${^CHILD_ERROR_NATIVE});
    my $status = $got == $kid->{pid} ? ${^CHILD_ERROR_NATIVE} : undef;
    delete $self->{kids}{$kid->{pid}};
    $self->{reaped}++;
    $self->{count}{$kid->{state}}--;
    POSIX::close($kid->{pidfd}) if defined $kid->{pidfd};
    if ($kid->{state} eq SPARE) {
        @{$self->{spares}} = grep { $_ != $kid } @{$self->{spares}};
        log_msg('warning', "spare [$kid->{pid}] ended unexpectedly"
                . (defined $status ? " with wait status $status" : ''));
    }
    close $kid->{ctl} if $kid->{ctl};
    if (my $call = $kid->{call}) {
        if (!$kid->{gone} && defined $status) {
            # Never blocking: the server serves everyone from one loop, and
            # a client that stopped reading (its socket full of stop and
            # continue words) must not stall it. Such a client loses the
            # status it would not read.
            my $sent = send($call, Proc::Prefork::Interp::Protocol::encode_status($status),
                            MSG_NOSIGNAL | MSG_DONTWAIT);
            if (!defined $sent && $! == EAGAIN) {
                log_msg('warning', "status of [$kid->{pid}] not sent: its client "
                        . 'is not reading (its socket is full)');
            } elsif (!defined $sent && $! != EPIPE && $! != ECONNRESET) {
                log_msg('warning', "writing status of [$kid->{pid}]: $!");
            }
        }
        close $call;
        $self->{last_active} = Time::HiRes::time();
    }
    return;
}

# Without a pidfd a child is checked every pass (and poll is bounded).
# [signals] So are relaying calls without a SIGCHLD fd, and those that
# have just begun to relay (see _relay_begin).
sub reap_unwatched {
    my ($self) = @_;
    $self->reap($_) for grep { !defined $_->{pidfd} } values %{$self->{kids}};
    my $all = !$self->{child_events} || delete $self->{relay_check};
    $self->reap($_) for grep { $_->{signals} && $all } values %{$self->{kids}};
    return;
}

#---------------------------------------------------------------- signals
# The `signals` extension (Proc::Prefork::Interp::Relay).

sub relaying { return defined $_[0]{child_events} }

# The executor reported 'S': its whole request is in and its client
# relays signals. A stop between that report and now sent its SIGCHLD
# before anything listened, so the next pass looks at the child anyway.
sub _relay_begin {
    my ($self, $kid) = @_;
    $kid->{signals} = 1;
    $self->{child_events} //= Proc::Prefork::Interp::Relay::child_events_open();
    $self->{relay_check} = 1;
    return;
}

# Bytes from a relaying client: signals for the call's process group.
sub _relay_readable {
    my ($self, $kid) = @_;
    my $got = sysread($kid->{call}, my $bytes, 256);
    return if !defined $got && ($! == EAGAIN || $! == EINTR);
    return $self->_client_gone($kid) unless $got;
    my ($sigs, $bad) = Proc::Prefork::Interp::Relay::decode_signals($bytes);
    unless ($sigs) {
        log_msg('warning', "call [$kid->{pid}]: client relayed byte $bad, "
                . 'which is not a signal number; ending the call');
        return $self->_client_gone($kid);
    }
    Proc::Prefork::Interp::Relay::signal_group($kid->{pid}, @$sigs);
    return;
}

# True if $status was a stop or continue (then told to the client).
sub _relay_change {
    my ($self, $kid, $status) = @_;
    my $word = Proc::Prefork::Interp::Relay::change_word($status);
    return 0 unless defined $word;
    send($kid->{call}, $word, MSG_NOSIGNAL | MSG_DONTWAIT)
        if $kid->{call} && !$kid->{gone};
    return 1;
}

# SIGCHLD came: a relaying call may have stopped or continued.
sub _child_events {
    my ($self) = @_;
    Proc::Prefork::Interp::Relay::child_events_drain($self->{child_events});
    $self->reap($_) for grep { $_->{signals} } values %{$self->{kids}};
    return;
}

# The client hung up: stop the whole call, politely first.
sub _client_gone {
    my ($self, $kid) = @_;
    return if $kid->{gone};
    $kid->{gone} = Time::HiRes::time();
    # A granted call's 'R' may be waiting unread (see check_granted):
    # read it now, so that the state says whether the request is in.
    $self->check_granted if $kid->{state} eq GRANTED;
    # Only a running call has its whole request in: its executor has
    # held SIGINT blocked since before it said so, until the call's own
    # state is in place, so the SIGINT reaches the call, never what the
    # script's initialisation left. Any other call's code has not
    # started and never will (still reading its request, with or
    # without a go-ahead, or waiting for a slot): its executor still has
    # the initialisation's handlers, /dev/null stdio and @ARGV, and a
    # SIGINT would run the script's handler, and its END blocks, for no
    # call. It is killed at once.
    if ($kid->{state} ne RUNNING) {
        $kid->{killed} = 1;
        kill 'KILL', -$kid->{pid};
        return;
    }
    kill 'INT', -$kid->{pid};
    return;
}

sub escalate_kills {
    my ($self) = @_;
    my $now = Time::HiRes::time();
    for my $kid (values %{$self->{kids}}) {
        next unless $kid->{gone} && !$kid->{killed};
        next if $now < $kid->{gone} + KILL_GRACE;
        $kid->{killed} = 1;
        kill 'KILL', -$kid->{pid};
    }
    return;
}

#---------------------------------------------------------------- queries

sub _oldest_first {
    my ($self, @states) = @_;
    my %want = map { $_ => 1 } @states;
    return sort { $a->{since} <=> $b->{since} }
        grep { $want{$_->{state}} } values %{$self->{kids}};
}

# The oldest call still in the exchange after pending_grace seconds: the
# one to drop when the pending slots are full and another call waits.
sub evictable {
    my ($self) = @_;
    my $limit = Time::HiRes::time() - $self->{opts}{pending_grace};
    my ($old) = grep { $_->{since} <= $limit } $self->_oldest_first(PENDING, GRANTED);
    return $old;
}

# The oldest call holding a running slot while still in its exchange
# ('granted') for more than pending_grace seconds: dropped when a call
# that has its whole request waits for a slot.
sub _stalled_granted {
    my ($self) = @_;
    my $limit = Time::HiRes::time() - $self->{opts}{pending_grace};
    my ($old) = grep { $_->{since} <= $limit } $self->_oldest_first(GRANTED);
    return $old;
}

# When the oldest call in its exchange may be dropped, if there is one.
sub eviction_time {
    my ($self) = @_;
    my ($oldest) = $self->_oldest_first(PENDING, GRANTED) or return undef;
    return $oldest->{since} + $self->{opts}{pending_grace};
}

#---------------------------------------------------------------- loop

# The loop source: each child's pidfd, its client's hang-up, its
# control socket while a report is due; deadlines for the rest.
sub source {
    my ($self, $now) = @_;
    my (@watches, @deadlines);
    my $no_pidfd = 0;
    for my $kid (values %{$self->{kids}}) {
        if (defined $kid->{pidfd}) {
            push @watches, [$kid->{pidfd}, POLLIN, sub { $self->reap($kid); return }];
        } else {
            $no_pidfd = 1;
        }
        # [signals] a relaying call's bytes are signals to send on
        # (each only while the kid is still ours: its pidfd's handler may
        # have reaped it earlier in the same pass, and signals to its
        # process group would then reach what the call left behind)
        if ($kid->{call} && !$kid->{gone} && $kid->{signals}) {
            push @watches, [fileno($kid->{call}), POLLIN | POLLRDHUP, sub {
                $self->_relay_readable($kid) if $self->{kids}{$kid->{pid}};
                return }];
        } elsif ($kid->{call} && !$kid->{gone}) {
            push @watches, [fileno($kid->{call}), POLLRDHUP, sub {
                $self->_client_gone($kid) if $self->{kids}{$kid->{pid}};
                return }];
        }
        # A granted call's 'R' is not waited for in the first
        # GRANTED_CHECK after its hand-off (see check_granted), only
        # looked for at the end of it; a slower one wakes the server.
        my $granted = $kid->{state} eq GRANTED;
        if ($kid->{ctl} && ($kid->{state} eq PENDING
                || ($granted && $kid->{since} + GRANTED_CHECK <= $now))) {
            push @watches, [fileno($kid->{ctl}), POLLIN, sub {
                $self->_ctl_readable($kid) if $self->{kids}{$kid->{pid}};
                return;
            }];
        }
        push @deadlines, $kid->{since} + GRANTED_CHECK
            if $granted && $kid->{since} + GRANTED_CHECK > $now;
        push @deadlines, $kid->{gone} + KILL_GRACE
            if $kid->{gone} && !$kid->{killed};
    }
    push @deadlines, $now + NOPIDFD_TICK if $no_pidfd;
    # [signals] a call that has just begun to relay is looked at in the
    # next pass whatever wakes the loop: its 'S' may have been read in
    # this pass's steps, after reap_unwatched ran, and a stop it made
    # before that sent its SIGCHLD to nobody.
    push @deadlines, $now if $self->{relay_check};
    # [signals] stops and continues of relaying calls
    if ($self->{child_events}) {
        push @watches, [fileno($self->{child_events}), POLLIN,
                        sub { $self->_child_events; return }];
    } elsif (grep { $_->{signals} } values %{$self->{kids}}) {
        push @deadlines, $now + NOPIDFD_TICK;
    }
    if ($self->{count}{+READY}) {
        my ($oldest) = $self->_oldest_first(GRANTED);
        push @deadlines, $oldest->{since} + $self->{opts}{pending_grace} if $oldest;
    }
    push @deadlines, $self->{spare_retry} if $self->{spare_retry};
    return (\@watches, Proc::Prefork::Interp::Loop::earliest(@deadlines));
}

# In a freshly forked child: the server's fds of every call go.
sub close_fds {
    my ($self) = @_;
    close $self->{child_events} if $self->{child_events};
    close $_ for @{delete $self->{reserved} // []};
    for my $kid (values %{$self->{kids}}) {
        close $kid->{ctl}  if $kid->{ctl};
        close $kid->{call} if $kid->{call};
        POSIX::close($kid->{pidfd}) if defined $kid->{pidfd};
    }
    return;
}

1;
