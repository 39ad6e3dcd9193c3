# A client's three stdio messages, and each message of the extra-fds
# block, must carry exactly one fd (SECURITY.md, "Bounded decoding"),
# and that block must be well formed (docs/protocol.md).  A message
# with two fds, with none, or with so many that the kernel truncates the
# control data is refused, and so is a bad block: logged, nothing runs,
# no status, and the server keeps serving with the processes and fds it
# had.
# PFI_LANG=perl or python (tests/meson.build runs both).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Socket qw(SOL_SOCKET SCM_RIGHTS);
use Socket::MsgHdr ();
use Test::More;
use Time::HiRes qw(sleep);

need_root();

my $env = new_env();
my $client = client_path();
my $log = "$env->{dir}/log";
my ($script, $marker) = victim($env, 'logger => \\&logger, request_timeout => 3, '
				 . 'max_servers => 2, prefork_spares => 1');
my @cmd = ($client, '-U', '-g', 'fds', interpreter(), $script);
my $sock = "$env->{run}/sfds";

my $r = run_call([@cmd, 'first'], dir => $env->{dir});
is($r->{status}, 0, 'the server runs') or diag $r->{err};
my $server = server_pid_of($script);
ok($server, 'found the server');
sleep 0.5;
my $kids0 = scalar descendants($server);
my $fds0 = fd_count($server);
unlink $marker;

sub req { my $b = join '', map { "$_\0" } @_; return pack('N', length $b) . $b }

open my $extra, '<', '/dev/null' or die $!;
# One stdio message: a byte with $n fds (each a copy of /dev/null).
sub fd_message {
	my ($s, $n) = @_;
	# The server may have refused the call and closed already.
	local $SIG{PIPE} = 'IGNORE';
	my $hdr = Socket::MsgHdr->new(buf => "\0");
	$hdr->cmsghdr(SOL_SOCKET, SCM_RIGHTS, pack('i*', (fileno $extra) x $n)) if $n;
	return defined Socket::MsgHdr::sendmsg($s, $hdr, 0);
}

for my $case ([0, 2], [1, 2], [2, 2], [1, 0], [0, 100]) {
	my ($which, $n) = @$case;
	my $label = "message for fd $which with $n fds";
	my $s = connect_path($sock) or die "connect: $!";
	is(read_n($s, length OUR_GREETING, 5), OUR_GREETING, "$label: got the greeting");
	send_all($s, "\0");
	fd_message($s, $_ == $which ? $n : 1) or last for 0 .. 2;
	# A good request after the bad message: had the fds been taken, the
	# script would run and see them.
	send_all($s, req('A=1', '', 'perl', $script, 'evil'));
	is(read_n($s, 4, 8), '', "$label: no status sent back");
	close $s;
	my $want = $n == 100 ? qr/message for fd $which had its control data truncated/
		 : $n == 0 ? qr/message for fd $which carried no file descriptor/
		 : qr/message for fd $which carried $n file descriptors, not one/;
	ok(wait_for(sub { slurp_file($log) =~ $want }, 5), "$label: refused and logged")
		or diag 'log: ' . slurp_file($log);
	ok(!-e $marker, "$label: the script did not run");
	my $x = run_call([@cmd, 'good'], dir => $env->{dir});
	ok($x->{status} == 0 && $x->{out} eq "ran good\n", "$label: a good call is still served")
		or diag "status $x->{status} err '$x->{err}'";
	unlink $marker;
}

# extra-fds (docs/protocol.md): the block after the request, then one
# message per number, each with exactly one fd.  Every fault is refused:
# logged, nothing runs, no status, every fd received closed.
my @extra_cases = (
	['an empty block', pack('N', 0), [], qr/extra-fds length 0\b/],
	['a length not a multiple of 4', pack('N', 6) . "\0\0\0\5\0\0", [],
	 qr/extra-fds length 6 is not a multiple of 4/],
	['65 fds', pack('N', 260) . pack('N*', 3 .. 67), [], qr/extra-fds length 260\b/],
	['fd 2', pack('N N', 4, 2), [1], qr/\b2 is below 3/],
	['fd 2^31', pack('N N', 4, 0x80000000), [1], qr/\b2147483648\b/],
	['descending numbers', pack('N N N', 8, 5, 4), [1, 1], qr/ascending/],
	['a repeated number', pack('N N N', 8, 5, 5), [1, 1], qr/ascending/],
	['a message with 2 fds', pack('N N', 4, 5), [2],
	 qr/message for fd 5 carried 2 file descriptors, not one/],
	['a message with no fd', pack('N N', 4, 5), [0],
	 qr/message for fd 5 carried no file descriptor/],
	['a message with 100 fds', pack('N N', 4, 5), [100],
	 qr/message for fd 5 had its control data truncated/],
	['the second of two messages with 2 fds', pack('N N N', 8, 5, 9), [1, 2],
	 qr/message for fd 9 carried 2 file descriptors, not one/],
);
for my $case (@extra_cases) {
	my ($what, $block, $messages, $want) = @$case;
	my $label = "extra-fds: $what";
	unlink $log;
	my $s = connect_path($sock) or die "connect: $!";
	is(read_n($s, length OUR_GREETING, 5), OUR_GREETING, "$label: got the greeting");
	send_all($s, "\x04");
	fd_message($s, 1) or last for 0 .. 2;
	send_all($s, req('A=1', '', 'perl', $script, 'evil'));
	{
		local $SIG{PIPE} = 'IGNORE';
		send_all($s, $block);
		fd_message($s, $_) or last for @$messages;
	}
	is(read_n($s, 4, 8), '', "$label: no status sent back");
	close $s;
	ok(wait_for(sub { (slurp_file($log) // '') =~ $want }, 5), "$label: refused and logged")
		or diag 'log: ' . (slurp_file($log) // '');
	ok(!-e $marker, "$label: the script did not run");
	my $x = run_call([@cmd, 'good'], dir => $env->{dir});
	ok($x->{status} == 0 && $x->{out} eq "ran good\n", "$label: a good call is still served")
		or diag "status $x->{status} err '$x->{err}'";
	unlink $marker;
}

ok(wait_for(sub { descendants($server) == $kids0 }, 10), 'no process leaked');
ok(wait_for(sub { fd_count($server) == $fds0 }, 10), 'no fd leaked')
	or diag 'fds now ' . fd_count($server) . ", before $fds0";
is(server_pid_of($script), $server, 'the same server served throughout');
done_testing();
