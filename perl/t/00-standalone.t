use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PFITest;
use Proc::Prefork::Interp;

# Without PREFORK_INTERP the call is a no-op: same process, same @ARGV.
{
    local $ENV{PREFORK_INTERP};
    delete $ENV{PREFORK_INTERP};
    local @ARGV = ('a', '', 'b c');
    my $pid = $$;
    prefork_initialisation_complete(max_servers => 2);
    is $$, $pid, 'standalone: still the same process';
    is_deeply \@ARGV, ['a', '', 'b c'], 'standalone: @ARGV untouched';
}

# The script run directly by perl does its per-call work once.
my ($status, $out) = PFITest::run_standalone('argv', 'x', 'y z');
is $status, 0, 'standalone script exits 0';
my $VAR1;
my $dump = eval $out;
is $dump->{zero}, PFITest::script_source(), 'standalone $0';
is_deeply $dump->{argv}, ['argv', 'x', 'y z'], 'standalone @ARGV';

($status) = PFITest::run_standalone('exit', 7);
is $status, 7 << 8, 'standalone exit status';

done_testing;
