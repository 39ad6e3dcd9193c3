use strict;
use warnings;
use Test::More;
use Socket qw(AF_UNIX SOCK_STREAM PF_UNSPEC);
use IO::Poll qw(POLLIN);
use Proc::Prefork::Interp::Loop;

my $L = 'Proc::Prefork::Interp::Loop';
is $L->can('earliest')->(), undef, 'no deadlines: none';
is $L->can('earliest')->(undef, 5, 3, undef, 4), 3, 'the earliest, undef ignored';

my $t = $L->can('timeout_ms');
is $t->(undef, 10), -1, 'no deadline: wait for ever';
is $t->(9, 10), 0, 'past: at once';
is $t->(10.0105, 10), 11, 'rounded up, never early';
is $t->(10, 10), 1, 'now: one millisecond';
is $t->(1e10, 0), 0x7fffffff, 'capped at what poll takes';

# A pass: steps, collect, poll, dispatch, after-steps; a blessed value
# from a handler ends the loop (the child leaving the server's code).
socketpair(my $x, my $y, AF_UNIX, SOCK_STREAM, PF_UNSPEC) or die;
syswrite($y, 'a');
my @trace;
my $loop = $L->new(on_poll_error => sub { die "poll: @_" });
$loop->step(sub { push @trace, 'step'; return 1 });   # not an executor
$loop->source(sub { push @trace, 'collect'; return ([], time + 60) });
$loop->source(sub {
    return ([[fileno($x), POLLIN, sub {
        push @trace, 'handler';
        sysread($x, my $b, 1);
        return bless {}, 'Some::Executor' if $b eq 'b';
        return;
    }]]);
});
$loop->after_step(sub { push @trace, 'after'; syswrite($y, 'b'); return bless {}, 'Ignored' });
my $got = $loop->run;
is ref $got, 'Some::Executor', 'run returns what the handler forked';
is_deeply \@trace, [qw(step collect handler after step collect handler)],
    'order of a pass; after-steps cannot end the loop';

done_testing;
