package Proc::Prefork::Interp::Timers;

# The interval timers the initialisation armed (alarm, and
# Time::HiRes::setitimer's real, virtual and profiling timers). A
# standalone run's per-call code is interrupted by them; a fork does not
# inherit them, so a call would never be. Noted and disarmed when the
# initialisation ends (one firing in the setup would end it by SIGALRM's
# default instead of the exit 0 its first caller waits for), and
# re-armed in each call, once its dispositions are in place, with the
# time they had left then: where a standalone run's per-call code starts.

use strict;
use warnings;

use Time::HiRes ();

my @TIMERS = (Time::HiRes::ITIMER_REAL(), Time::HiRes::ITIMER_VIRTUAL(),
              Time::HiRes::ITIMER_PROF());

my %armed;      # timer => [seconds left, interval]

# In the setup, at prefork_initialisation_complete.
sub note_and_disarm {
    %armed = ();
    for my $which (@TIMERS) {
        my ($left, $interval) = Time::HiRes::getitimer($which);
        next unless $left && $left > 0;     # 0 left: not armed
        $armed{$which} = [$left, $interval // 0];
        Time::HiRes::setitimer($which, 0);
    }
    return;
}

# In an executor, after the module's own use of alarm (the request
# deadline) and with the call's dispositions in place.
sub rearm {
    Time::HiRes::setitimer($_, @{ $armed{$_} }) for keys %armed;
    return;
}

1;
