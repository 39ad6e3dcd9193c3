use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PFITest;
use Proc::Prefork::Interp::CallerState;

# A server started under a low open-files limit (RLIMIT_NOFILE): the
# server's own descriptors (a pidfd, a control socket and a call socket
# per call) must not make calls fail. It raises its own soft limit to
# the hard one; every call still runs with its caller's limit, as a
# standalone run would. Where the hard limit is low too, accept() meets
# EMFILE: the server waits for a call to end (or a short while), logs
# it once, and serves every call in turn.

my $CS = 'Proc::Prefork::Interp::CallerState';
my ($soft0, $hard0) = @{ $CS->can('get_rlimit')->(7) };
my $show = sub { $_[0] == ~0 ? 'unlimited' : $_[0] };
plan skip_all => "the hard open-files limit ($hard0) is too low" if $hard0 < 64;

# $n calls at once, each 0.3 s long; returns their statuses.
sub parallel {
    my ($t, $n, %a) = @_;
    my @r = map { $t->call(args => ['span', 0.3], no_wait => 1, %a) } 1 .. $n;
    return map { PFITest::read_status($_->{sock}, 20) // 'none' } @r;
}

sub accept_lines { return () = ($_[0]->log_text // '') =~ /accept failed/g }

{
    my $t = PFITest->new(wrap => ['sh', '-c', 'ulimit -Sn 14 && exec "$@"', 'sh']);
    is $t->setup_status, 0, 'soft limit 14: setup ok' or diag $t->setup_err;
    my $r = $t->call(args => ['state']);
    like $r->{out}, qr/ nofile=14:\Q${\ $show->($hard0)}\E /,
        'soft limit 14: the first call has the first caller\'s limit';
    for my $round (1 .. 3) {
        my @st = parallel($t, 8);
        is "@st", join(' ', (0) x 8), "soft limit 14, round $round: 8 calls at once all served";
    }
    is accept_lines($t), 0, 'soft limit 14: no accept failures';
    $r = $t->call(args => ['state']);
    like $r->{out}, qr/ nofile=14:/, 'soft limit 14: a call without a state block still has 14';

    # A caller with another soft limit gets its own, also the
    # server's usual one (the limit it raised for itself).
    my %st = (umask => umask, nice => getpriority(0, 0), sigign => [], sigblock => [],
              rlimit => [ map { $CS->can('get_rlimit')->($_) } 0 .. 15 ]);
    for my $soft (20, 14, $hard0) {
        $st{rlimit}[7] = [$soft, $hard0];
        $r = $t->call(args => ['state'], state => $CS->can('encode')->(\%st));
        like $r->{out} // '', qr/ nofile=\Q${\ $show->($soft)}\E:/,
            "soft limit 14: a caller whose soft limit is $soft gets $soft";
    }
    ok $t->finish, 'soft limit 14: nothing left behind';
}

{
    # Soft and hard 14: nothing to raise; accept meets EMFILE.
    my $t = PFITest->new(wrap => ['sh', '-c', 'ulimit -n 14 && exec "$@"', 'sh']);
    is $t->setup_status, 0, 'limit 14:14: setup ok' or diag $t->setup_err;
    is $t->call(args => ['noop'])->{status}, 0, 'limit 14:14: first call ok';
    my @st = parallel($t, 8);
    is "@st", join(' ', (0) x 8), 'limit 14:14: 8 calls at once all served, in turn';
    my $lines = accept_lines($t);
    cmp_ok $lines, '<=', 8, "limit 14:14: EMFILE logged at most once a call ($lines lines)";
    ok $t->server_alive, 'limit 14:14: the server goes on';
    is $t->call(args => ['exit', 3])->{status}, 3 << 8, 'limit 14:14: and serves';
    ok $t->finish, 'limit 14:14: nothing left behind';
}

done_testing;
