# A run directory with more than 100 servers is pre-cleaned before a new
# one starts: the least recently used go first (socket and lock), and a
# server whose lock is held is left alone.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Fcntl qw(:flock);
use Socket;
use Test::More;

my $env = new_env();
my $run = $env->{run};
my $script = write_script($env, 'pc.pl', <<'EOS');
use Proc::Prefork::Interp;
prefork_initialisation_complete();
print "ran\n";
EOS

# 110 stale servers: socket files nobody listens on, with lock files,
# and access times one minute apart (ident 000 is the oldest).
my $now = time;
for my $i (0 .. 109) {
	my $id = sprintf 'stale%03d', $i;
	socket(my $s, AF_UNIX, SOCK_STREAM, 0) or die;
	bind($s, pack_sockaddr_un("$run/s$id")) or die "bind: $!";
	close $s;
	open my $l, '>', "$run/l$id" or die; close $l;
	my $t = $now - 100_000 + 60 * $i;
	utime $t, $t, "$run/s$id" or die;
}
# The oldest one is busy: someone holds its lock.
open my $busy, '<', "$run/lstale000" or die;
flock($busy, LOCK_EX) or die;

my $r = run_call([$script], dir => $env->{dir});
is($r->{status}, 0, 'the call succeeded') or diag $r->{err};
is($r->{out}, "ran\n", 'and ran the script');

my %left = map { $_ => 1 } do { opendir my $d, $run or die; grep { !/^\./ } readdir $d };
my @stale_socks = grep { /^sstale/ } keys %left;
ok(@stale_socks <= 100, 'at most 100 stale servers remain (' . scalar(@stale_socks) . ')');
ok($left{sstale000} && $left{lstale000}, 'the server whose lock is held was left alone');
ok(!$left{sstale001} && !$left{lstale001}, 'the least recently used free one went, socket and lock');
ok($left{sstale109} && $left{lstale109}, 'the most recently used ones stay');
my @new = grep { /^s/ && !/^sstale/ } keys %left;
is(scalar(@new), 1, 'the new server\'s socket is there');

close $busy;
done_testing;
