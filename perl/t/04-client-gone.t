use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PFITest;

# When the client goes away, the executor's whole process group goes,
# within a second even if it ignores SIGINT.
my $t = PFITest->new;
is $t->setup_status, 0, 'setup ok';
is $t->call(args => ['noop'])->{status}, 0, 'first call ok';

for my $i (1 .. 5) {
    my $r = $t->call(args => ['ignint'], no_wait => 1);
    my $out = PFITest::wait_for_file_content($r->{out_file}, qr/\A\d+ \d+\n/);
    ok defined $out, "round $i: executor started";
    my @pids = split ' ', $out // '';
    is scalar(grep { PFITest::alive($_) } @pids), 2, "round $i: executor and its child run";
    close $r->{sock};
    my $took = PFITest::wait_pids_gone(\@pids, 5);
    ok defined $took && $took < 1.0,
        sprintf "round $i: group gone %.3f s after the client (SIGINT ignored)", $took // -1;
}

for my $i (1 .. 5) {
    my $r = $t->call(args => ['sleep', 60], no_wait => 1);
    my $out = PFITest::wait_for_file_content($r->{out_file}, qr/\A\d+\n/);
    my ($pid) = split ' ', $out // '';
    ok PFITest::alive($pid), "round $i: sleeping executor runs";
    close $r->{sock};
    my $took = PFITest::wait_pids_gone([$pid], 5);
    ok defined $took && $took < 0.4,
        sprintf "round $i: SIGINT ended it at once (%.3f s)", $took // -1;
}

is $t->call(args => ['exit', 4])->{status}, 4 << 8, 'server still serves';
ok $t->finish, 'nothing left behind';
done_testing;
