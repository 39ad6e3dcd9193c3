use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PFITest;

# When the client goes away, the executor's whole process group goes:
# by SIGINT, and by SIGKILL after a grace if it ignores SIGINT.  (The
# bounds below only tell ended from left running.)
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
    my $took = PFITest::wait_pids_gone(\@pids, 10);
    ok defined $took,
        sprintf "round $i: group gone %.3f s after the client (SIGINT ignored)", $took // -1;
}

for my $i (1 .. 5) {
    my $mark = $t->dir . "/int-mark-$i";
    my $r = $t->call(args => ['intmark', $mark], no_wait => 1);
    my $out = PFITest::wait_for_file_content($r->{out_file}, qr/\A\d+\n/);
    my ($pid) = split ' ', $out // '';
    ok PFITest::alive($pid), "round $i: sleeping executor runs";
    close $r->{sock};
    my $took = PFITest::wait_pids_gone([$pid], 10);
    ok defined $took, sprintf "round $i: it ended (%.3f s)", $took // -1;
    is PFITest::_slurp($mark), "INT\n", "round $i: SIGINT is what ended it";
}

is $t->call(args => ['exit', 4])->{status}, 4 << 8, 'server still serves';
ok $t->finish, 'nothing left behind';
done_testing;
