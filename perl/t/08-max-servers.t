use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PFITest;

# Runs $n calls at once from child processes; returns the largest number
# of executors that ran at the same moment, from their own timestamps.
sub max_overlap {
    my ($t, $n, $secs) = @_;
    my @kids;
    my $sock = $t->take_first;   # the first call is made here too
    for my $i (1 .. $n) {
        my $s = $i == 1 ? $sock : undef;
        my $pid = fork // die;
        if (!$pid) {
            $t->{finished} = 1;    # a client child must not tear down
            my $r = $t->call(args => ['span', $secs], ($s ? (sock => $s) : ()),
                             timeout => 60);
            open(my $fh, '>', $t->dir . "/span$i") or POSIX::_exit(1);
            print $fh (defined $r->{status} && $r->{status} == 0 ? $r->{out} : "failed\n");
            close $fh;
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
    close $sock if $sock;
    waitpid($_, 0) for @kids;
    my (@events, $failed);
    for my $i (1 .. $n) {
        my $line = PFITest::_slurp($t->dir . "/span$i") // '';
        my ($start, $end) = $line =~ /\A(\S+) (\S+)\n\z/ or do { $failed++; next };
        push @events, [$start, 1], [$end, -1];
    }
    my ($cur, $max) = (0, 0);
    for my $e (sort { $a->[0] <=> $b->[0] || $a->[1] <=> $b->[1] } @events) {
        $cur += $e->[1];
        $max = $cur if $cur > $max;
    }
    return ($max, $failed // 0);
}

for my $round (1 .. 3) {
    my $t = PFITest->new(opts => 'max_servers=2');
    my ($max, $failed) = max_overlap($t, 6, 0.3);
    is $failed, 0, "round $round: all 6 calls served";
    is $max, 2, "round $round: max_servers=2: at most (and here exactly) 2 at once";
    ok $t->finish, "round $round: nothing left behind";
}

{
    my $t = PFITest->new(opts => 'max_servers=1;prefork_spares=2');
    my ($max, $failed) = max_overlap($t, 4, 0.2);
    is $failed, 0, 'max_servers=1: all calls served';
    is $max, 1, 'max_servers=1: one at a time, spares notwithstanding';
    ok $t->finish, 'nothing left behind';
}

{
    my $t = PFITest->new(opts => 'max_servers=-1;prefork_spares=0');
    my ($max, $failed) = max_overlap($t, 6, 1.5);
    is $failed, 0, 'unlimited: all calls served';
    is $max, 6, 'unlimited: all 6 at once';
    ok $t->finish, 'nothing left behind';
}

done_testing;
