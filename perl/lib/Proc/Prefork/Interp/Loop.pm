package Proc::Prefork::Interp::Loop;

# The server's event loop as an object. Each part of the server
# contributes:
#   - steps, run in order at the start of every pass (work that is due
#     whatever woke the loop: reaping, forking spares, idle-time work);
#   - sources, called as $source->($now) each pass, returning
#     ([[fd, events, handler], ...], $deadline): what to poll for and
#     when it next needs the loop to wake (undef: no deadline);
#   - after-steps, run after the handlers of a pass.
# A pass is: steps, collect, poll, dispatch, after-steps. A step or a
# handler that forked returns the Executor object; in that child the
# loop ends and returns it, and the child leaves the server's code.

use strict;
use warnings;

use Errno qw(EINTR);
use Scalar::Util qw(blessed);
use Time::HiRes ();
use Proc::Prefork::Interp::Linux qw(poll);

sub new {
    my ($class, %args) = @_;
    return bless { steps => [], sources => [], after => [],
                   on_poll_error => $args{on_poll_error} }, $class;
}

sub step       { push @{$_[0]{steps}},   $_[1]; return }
sub source     { push @{$_[0]{sources}}, $_[1]; return }
sub after_step { push @{$_[0]{after}},   $_[1]; return }

# Returns only in a forked executor, with its Executor object.
sub run {
    my ($self) = @_;
    for (;;) {
        for my $step (@{$self->{steps}}) {
            my $executor = $step->();
            return $executor if blessed $executor;
        }
        my $now = Time::HiRes::time();
        my ($pollv, $handlers, $deadline) = $self->_collect($now);
        my $n = poll(timeout_ms($deadline, $now), $pollv);
        if ($n < 0) {
            $self->{on_poll_error}->("$!") unless $! == EINTR;
            next;
        }
        for my $i (0 .. $#$handlers) {
            next unless $pollv->[2 * $i + 1];
            my $executor = $handlers->[$i]->();
            return $executor if blessed $executor;
        }
        $_->() for @{$self->{after}};
    }
}

sub _collect {
    my ($self, $now) = @_;
    my (@pollv, @handlers, @deadlines);
    for my $source (@{$self->{sources}}) {
        my ($watches, $deadline) = $source->($now);
        for my $w (@$watches) {
            push @pollv, $w->[0], $w->[1];
            push @handlers, $w->[2];
        }
        push @deadlines, $deadline;
    }
    return (\@pollv, \@handlers, earliest(@deadlines));
}

# The earliest of some times, undef ones ignored; undef if none.
sub earliest {
    my $min;
    for (grep { defined } @_) {
        $min = $_ if !defined $min || $_ < $min;
    }
    return $min;
}

# poll's timeout in milliseconds for a deadline: -1 (none), else
# rounded up so that the loop wakes at or after it, never just before.
sub timeout_ms {
    my ($deadline, $now) = @_;
    return -1 unless defined $deadline;
    my $ms = ($deadline - $now) * 1000;
    $ms = $ms < 0 ? 0 : int($ms) + 1;
    return $ms > 0x7fffffff ? 0x7fffffff : $ms;
}

1;
