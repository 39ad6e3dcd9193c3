# Under strace -f, a normal call installs the seccomp filter after
# connect() and after the raw read of the greeting head, and before the
# extension data is read or any fd is passed: everything the server
# sends is decoded behind the filter.  And because only raw bytes are
# read before the filter, a greeting that is EOF still leads to a
# fresh server start (auto-reload depends on it).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;

my $env = new_env();
my $client = client_path();
my $script = write_script($env, 'order.pl', <<'EOS');
use strict;
use Proc::Prefork::Interp;
prefork_initialisation_complete();
print "ok @ARGV\n";
EOS

# EOF instead of a greeting: a fresh server answers, in the sandbox.
my $fake = start_fake($env, 'eofid', 'eof');
my $r = run_call([$client, '-g', 'eofid', '-U', 'perl', $script, 'fresh'],
		 dir => $env->{dir});
is(describe_status($r->{status}), 'exit 0', 'EOF greeting: call succeeds')
	or diag $r->{err};
is($r->{out}, "ok fresh\n", 'EOF greeting: a fresh server ran the script');
stop_fake($fake);

SKIP: {
	my ($ok, $why) = have_strace();
	skip "strace: $why", 10 unless $ok;
	my $off = sandbox_off();
	skip $off, 10 if $off;

	is(run_call([$script, 'warm'], dir => $env->{dir})->{out}, "ok warm\n",
	   'server is warm');
	my $log = "$env->{dir}/order.strace";
	$r = run_call(['strace', '-f', '-qq', '-s', '32', '-o', $log, $script, 'traced'],
		      dir => $env->{dir});
	is($r->{out}, "ok traced\n", 'traced call works');
	my ($pid, @calls) = strace_calls($log);
	my $find = sub {
		my ($re, $from) = @_;
		for my $i (($from // 0) .. $#calls) {
			return $i if $calls[$i][1] =~ $re;
		}
		return -1;
	};
	my $connect = $find->(qr/^connect\(\d+, \{sa_family=AF_UNIX/);
	my $head = $find->(qr/^read\(\d+, "PFI\\n.*", 8\)\s+= 8$/);
	my $filter = $find->(qr/^(?:seccomp\(SECCOMP_SET_MODE_FILTER, \d+, \{len=\d+|prctl\(PR_SET_SECCOMP, SECCOMP_MODE_FILTER).* = 0$/);
	my $nnp = $find->(qr/^prctl\(PR_SET_NO_NEW_PRIVS, 1/);
	my $capget = $find->(qr/^capget\(/);
	my $capset = $find->(qr/^capset\(/);
	my $xdata = $find->(qr/^read\(\d+, "full-argv( signals)?"/);
	my $sendmsg = $find->(qr/^sendmsg\(/);
	diag "connect $connect head $head capget $capget capset $capset nnp $nnp filter $filter xdata $xdata sendmsg $sendmsg";
	ok($connect >= 0 && $head > $connect, 'greeting head read raw after connect');
	ok($capget > $head && $capget < $filter,
	   'capabilities checked after that, before the filter');
	# An unprivileged client holds none and has nothing to drop.
	if ($> == 0) {
		ok($capset > $head && $capset < $filter,
		   'root: capabilities dropped after that, before the filter');
	} else {
		is($capset, -1, 'unprivileged: no capabilities to drop, no capset');
	}
	ok($nnp > $head && $nnp < $filter, 'no-new-privs set before the filter');
	ok($filter > $head, 'filter installed after the raw head read');
	ok($xdata > $filter, 'extension data read only behind the filter');
	ok($sendmsg > $filter, 'fds passed only behind the filter');
	# (libcap-ng reads /proc/self/status in between: other fds.)
	my ($fd) = $head >= 0 ? $calls[$head][1] =~ /^read\((\d+),/ : (-1);
	my @between = grep { $calls[$_][1] =~ /^(?:read|recv\w*|poll)\(\[?\{?(?:fd=)?$fd\b/ }
		($head + 1 .. $filter - 1);
	is(scalar @between, 0, 'nothing more read from the server before the filter')
		or diag join "\n", map { $calls[$_][1] } @between;
}

done_testing();
