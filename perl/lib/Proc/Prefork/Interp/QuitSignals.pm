package Proc::Prefork::Interp::QuitSignals;

# SIGTERM, SIGINT and SIGHUP sent to the server (kill PID, a service
# manager stopping it, a shutdown) make it quit as --kill does: it stops
# accepting, the calls it runs finish and report their statuses, then
# it exits. Dying of the signal would lose every running call's status;
# and the handlers the script installed for these signals during its
# initialisation are its calls' (Executor gives them back), never to
# run in the server or in a spare.
#
# The signals are taken through a signalfd, so one that arrives just
# before the loop's poll still wakes it. Without signalfd, a handler
# notes them and the loop looks every FALLBACK_TICK seconds.

use strict;
use warnings;

use IO::Poll qw(POLLIN);
use POSIX ();
use Proc::Prefork::Interp::Linux qw(signalfd_open signalfd_drain);

use constant FALLBACK_TICK => 0.25;

my @NAMES = qw(TERM INT HUP);
my %NUMBER = map { $_ => POSIX->can("SIG$_")->() } @NAMES;
my %NAME = reverse %NUMBER;

# In the setup, just before it forks the server: the signals are held
# (blocked) from here, so that none reaches the script's handlers in
# the server before new() takes them. Returns the mask as it was.
sub hold {
    my $old = POSIX::SigSet->new;
    POSIX::sigprocmask(POSIX::SIG_BLOCK(), POSIX::SigSet->new(@NUMBER{@NAMES}), $old);
    return $old;
}

# In the server, before anything else can fork; before: the mask hold()
# returned. on_signal->("SIGTERM") is called from the loop (source) for
# each that comes.
sub new {
    my ($class, %args) = @_;
    my $self = bless { on_signal => $args{on_signal}, noted => [] }, $class;
    my $before = $args{before} // hold();
    # What a child lets through again: those not blocked before hold().
    my $unblock = POSIX::SigSet->new(grep { !$before->ismember($_) } @NUMBER{@NAMES});
    ($self->{fh}) = signalfd_open(@NUMBER{@NAMES});
    if ($self->{fh}) {
        $SIG{$_} = 'DEFAULT' for @NAMES;
    } else {
        $SIG{$_} = sub { push @{$self->{noted}}, $_[0] } for @NAMES;
        POSIX::sigprocmask(POSIX::SIG_UNBLOCK(), $unblock);
    }
    $self->{unblock} = $unblock;
    return $self;
}

# Loop source: the signalfd, or (without one) a deadline to look again.
sub source {
    my ($self, $now) = @_;
    my $fh = $self->{fh};
    return ([[fileno($fh), POLLIN, sub { $self->_readable; return }]]) if $fh;
    if (defined(my $name = shift @{$self->{noted}})) {
        $self->{on_signal}->("SIG$name");
    }
    return ([], $now + FALLBACK_TICK);
}

sub _readable {
    my ($self) = @_;
    my ($sig) = signalfd_drain($self->{fh});
    $self->{on_signal}->('SIG' . ($NAME{$sig} // $sig)) if defined $sig;
    return;
}

# In a freshly forked child of the server: the signals kill it by
# default again (a spare dies of them; a call gets the script's
# handlers from Executor), unblocked unless they were blocked before.
sub in_child {
    my ($self) = @_;
    $SIG{$_} = undef for @NAMES;    # SIG_DFL; %SIG as a standalone run's
    close delete $self->{fh} if $self->{fh};
    POSIX::sigprocmask(POSIX::SIG_UNBLOCK(), delete $self->{unblock})
        if $self->{unblock};
    return;
}

1;
