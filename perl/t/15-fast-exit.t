use strict;
use warnings;
use Test::More;
use FindBin;
use File::Temp qw(tempdir);
use lib "$FindBin::Bin/lib";
use PFITest;

# fast_exit => 1: a call ends after every END block and a flush of every
# handle, without perl's global destruction; the status is perl's. The
# ordinary ending (the default) and a standalone run keep DESTROY.
my $dir = tempdir('pfitest-fe-XXXXXX', TMPDIR => 1, CLEANUP => 1);
sub slurp { open(my $f, '<', $_[0]) or return undef; local $/; return <$f> }

my $all = "buffered\ncall END\nearly END\nDESTROY\n";
(my $fast = $all) =~ s/DESTROY\n//;

my ($sa_status, $sa_out) = PFITest::run_standalone('ending', "$dir/sa", 0);
is $sa_status, 0, 'standalone: status 0';
is $sa_out, $all, 'standalone: END blocks, then DESTROY';
is slurp("$dir/sa"), "lexical\n", 'standalone: the lexical handle is flushed';

for my $case (['ordinary', '', $all], ['fast_exit', 'fast_exit=1', $fast]) {
    my ($name, $opts, $want) = @$case;
    my $t = PFITest->new(opts => $opts);
    is $t->setup_status, 0, "$name: setup ok";
    my @wrong;
    for my $n (1 .. 20) {
        my $file = "$dir/$name-$n";
        my $status = $n % 4;
        my $r = $t->call(args => ['ending', $file, $status]);
        push @wrong, "call $n: status " . ($r->{status} // 'none')
            unless defined $r->{status} && $r->{status} == $status << 8;
        push @wrong, "call $n: output '$r->{out}'" unless $r->{out} eq $want;
        my $lex = slurp($file) // 'nothing';
        push @wrong, "call $n: lexical handle '$lex'" unless $lex eq "lexical\n";
    }
    is_deeply \@wrong, [], "$name: 20 calls, each with its status, output and flushed handle";

    # An END block that changes $? changes the status, as standalone.
    my $r = $t->call(args => ['ending', "$dir/$name-override", 0, 9]);
    is $r->{status}, 9 << 8, "$name: \$? set by an END block is the status";
    # A call that dies: status 255, END blocks still run.
    $r = $t->call(args => ['die']);
    is $r->{status}, 255 << 8, "$name: die gives 255";
    ok $t->finish, "$name: nothing left behind";
}

my ($st) = PFITest::run_standalone('ending', "$dir/sa2", 0, 9);
is $st, 9 << 8, 'standalone: $? set by an END block is the status';

done_testing;
