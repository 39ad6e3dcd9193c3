use strict;
use warnings;
use Test::More;
use POSIX ();
use Socket qw(AF_UNIX SOCK_STREAM PF_UNSPEC);
use Proc::Prefork::Interp::Pool;

my $P = 'Proc::Prefork::Interp::Pool';

# The spare decision.
my $fork = $P->can('spares_to_fork');
my %base = (quitting => 0, pending => 0, spares => 0, wanted => 2, retry_at => undef, now => 10);
is $fork->(%base), 2, 'the shortfall';
is $fork->(%base, spares => 1), 1, 'one missing';
is $fork->(%base, spares => 2), 0, 'enough';
is $fork->(%base, quitting => 1), 0, 'not while quitting';
is $fork->(%base, pending => 1), 0, 'not while a call is in its exchange';
is $fork->(%base, retry_at => 11), 0, 'not before the retry after a failed fork';
is $fork->(%base, retry_at => 10), 2, 'at the retry';
is $fork->(%base, wanted => 0), 0, 'none wanted';

# The state machine, with real children (that only sleep) standing in
# for executors and socketpairs for their control sockets and calls.
$SIG{PIPE} = 'IGNORE';
my $pool = $P->new(
    opts => { max_servers => 1, max_pending => 4, pending_grace => 0, prefork_spares => 0 },
    new_executor => sub { POSIX::_exit(99) });   # never forks here

sub sleeper {
    my $pid = fork // die "fork: $!";
    unless ($pid) { sleep 60; POSIX::_exit(0) }
    socketpair(my $ctl, my $far, AF_UNIX, SOCK_STREAM, PF_UNSPEC) or die;
    my $kid = { pid => $pid, pidfd => undef, since => time, ctl => $ctl, far => $far };
    # As _fork records a new spare (white box: no fork through the pool).
    $pool->{kids}{$pid} = $kid;
    $pool->_set_state($kid, 'spare');
    push @{$pool->{spares}}, $kid;
    return $kid;
}
sub counts { return join ' ', map { $pool->$_ } qw(running_count pending_count busy_count) }
sub reaped {
    my ($kid) = @_;
    for (1 .. 200) {
        $pool->reap($kid);
        return 1 unless $pool->{kids}{$kid->{pid}};
        select(undef, undef, undef, 0.05);
    }
    return 0;
}

my ($a, $b) = (sleeper(), sleeper());
is counts(), '0 0 0', 'two spares: nothing busy';

socketpair(my $call1, my $client1, AF_UNIX, SOCK_STREAM, PF_UNSPEC) or die;
socketpair(my $call2, my $client2, AF_UNIX, SOCK_STREAM, PF_UNSPEC) or die;
is_deeply [$pool->hand_over($call1)], [1], 'hand-over: taken, no executor in the server';
is $a->{state}, 'granted', 'a free slot: the first call is granted at once';
is counts(), '1 1 1', 'it holds a running slot and is in its exchange';
$pool->hand_over($call2);
is $b->{state}, 'pending', 'no free slot: the second call is pending';
is counts(), '1 2 2', 'counted';

syswrite($b->{far}, 'R');
$pool->_ctl_readable($b);
is $b->{state}, 'ready', "its 'R': ready";
$pool->start_ready;
is $a->{state}, 'dead', 'the granted call stalled in its exchange is dropped';
is $b->{state}, 'running', 'and the ready call runs in its slot';
is counts(), '1 0 1', 'counted';

kill 'TERM', $b->{pid};
ok reaped($b), 'the running call is reaped';
is sysread($client2, my $status, 8), 4, 'its client gets four bytes';
is unpack('N', $status), 15, 'the wait status';
ok reaped($a), 'the dropped call is reaped';
ok $pool->empty, 'nothing left';
is counts(), '0 0 0', 'counts back to zero';

my $c = sleeper();
$pool->quit;
is $c->{state}, 'dead', 'quitting ends the spares';
ok reaped($c), 'and they are reaped';
is_deeply [$pool->{count}{dead}, scalar @{$pool->{spares}}], [0, 0], 'none left';

done_testing;
