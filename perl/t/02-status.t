use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PFITest;

# The raw wait status must be what a standalone run gives, signals included.
my $t = PFITest->new;
is $t->setup_status, 0, 'setup ok';

my @wrong;
for my $rep (1 .. 2) {
    for my $n (0 .. 255) {
        my $st = $t->call(args => ['exit', $n])->{status};
        push @wrong, "exit $n: " . ($st // 'none') unless defined $st && $st == $n << 8;
    }
}
is_deeply \@wrong, [], 'exit 0..255, twice: status is N << 8';

my %expect;
for my $how (['die'], map { ['signal', $_] } qw(TERM KILL USR1 HUP ALRM INT PIPE)) {
    my ($sa) = PFITest::run_standalone(@$how);
    $expect{"@$how"} = $sa;
    my @got;
    for my $rep (1 .. 15) {
        my $st = $t->call(args => $how)->{status};
        push @got, $st // 'none';
    }
    is_deeply \@got, [($sa) x 15], "@$how: status $sa as standalone, 15 times";
}
is $expect{die}, 255 << 8, 'die gives exit 255';
is $expect{'signal TERM'} & 0x7f, 15, 'death by SIGTERM is a signal status';

ok $t->finish, 'nothing left behind';
done_testing;
