package Proc::Prefork::Interp::Relay;

# The `signals` extension, server side (docs/protocol.md): a client
# that uses it (bit 0x02 of its step-2 byte) keeps the call open after
# the request and sends one byte per signal its caller sent it; the
# server signals the call's process group with each and reports the
# executor's stops and continues as wait-status words, then its final
# status. This package holds that concern's pieces: the pure codec,
# the SIGCHLD notification the stops need (pidfds only report exits),
# and the signalling itself. Pool, Executor and Server call it at hooks
# marked [signals].

use strict;
use warnings;

use POSIX ();
use Proc::Prefork::Interp::Linux ();

use constant {
    USE_SIGNALS   => 0x02,         # step-2 bit
    FEATURE       => 'signals',    # xdata token
    MAX_SIGNAL    => 64,
    WCONTINUED    => 8,            # Linux; POSIX.pm does not export it
};

#------------------------------------------------------------- codec

# The signal numbers in bytes a client sent. A byte outside 1..64 is
# not a signal: returns (undef, that byte's value) then.
sub decode_signals {
    my ($bytes) = @_;
    my @sigs = unpack 'C*', $bytes;
    for my $sig (@sigs) {
        return (undef, $sig) if $sig < 1 || $sig > MAX_SIGNAL;
    }
    return \@sigs;
}

# The word that tells the client a stop or continue, or undef if the
# wait status is neither (an ending: the caller reports it as today).
sub change_word {
    my ($status) = @_;
    return pack('N', 0xffff) if $status == 0xffff;
    return pack('N', $status) if ($status & 0xff) == 0x7f
                                 && $status <= 0xffff;
    return undef;
}

#------------------------------------------------- child notification

my $chld_set = POSIX::SigSet->new(POSIX::SIGCHLD());

# A file handle that becomes readable on SIGCHLD, which then stays
# blocked in the server. Undef if the kernel or the table lacks
# signalfd: the caller then polls with a bound instead.
sub child_events_open {
    my ($fh) = Proc::Prefork::Interp::Linux::signalfd_open(POSIX::SIGCHLD());
    return $fh;
}

# Empties the notification fd; what changed is asked of waitpid.
sub child_events_drain {
    my ($fh) = @_;
    Proc::Prefork::Interp::Linux::signalfd_drain($fh);
    return;
}

# In a freshly forked child of the server: SIGCHLD is the server's
# business; the script gets it unblocked, as it was before the server.
sub child_unblock {
    POSIX::sigprocmask(POSIX::SIG_UNBLOCK(), $chld_set);
    return;
}

# The extra waitpid flags for a child whose call relays signals.
sub wait_flags { return POSIX::WUNTRACED() | WCONTINUED }

#--------------------------------------------------------- signalling

# Signals the call's process group. Only called while the group's
# leader, the executor, is not yet reaped: until then its pid, and so
# the group id, cannot be reused.
sub signal_group {
    my ($pgid, @sigs) = @_;
    kill $_, -$pgid for @sigs;
    return;
}

#----------------------------------------------------------- executor

# Every signal a client may relay (or only @only), blocked in the
# executor from its report that the request is in until the call's code
# starts: the server relays from that report on (and sends SIGINT when
# the client goes), and a handler of the script must not run while the
# executor still sets the call up.
sub executor_hold {
    my (@only) = @_;
    # glibc keeps 32 and 33 for itself and refuses to add them.
    my $set = POSIX::SigSet->new(@only ? @only : grep { $_ != POSIX::SIGKILL()
                                                        && $_ != POSIX::SIGSTOP() }
                                 1 .. 31, 34 .. MAX_SIGNAL);
    my $old = POSIX::SigSet->new;
    POSIX::sigprocmask(POSIX::SIG_BLOCK(), $set, $old);
    # Released later (without a caller's state to set the mask): only
    # what this blocked.
    $set->delset($_) for grep { $old->ismember($_) } 1 .. MAX_SIGNAL;
    return $set;
}

sub executor_release {
    my ($held) = @_;
    POSIX::sigprocmask(POSIX::SIG_UNBLOCK(), $held);
    return;
}

1;
