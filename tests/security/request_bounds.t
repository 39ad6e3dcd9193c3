# Bounds on the request (SECURITY.md, "Bounded decoding"): at most
# PFI_REQUEST_MAX bytes and PFI_REQUEST_MAX_STRINGS entries and
# arguments (src/protocol.h).  The client refuses to send more, in one
# clear line, before it reaches any server; the server refuses more from
# a client that sends it anyway, as soon as it arrives; and what a call
# costs the server in memory is measured (VmHWM of the executor, which
# the script reports) against the size of its request.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use IO::FDPass ();
use Test::More;

my $MAX_STRINGS = 1 << 18;
my $env = new_env();
my $client = client_path();
my $log = "$env->{dir}/log";
# PFI_LANG=perl or python (tests/meson.build runs both).
my $script = write_script($env, 'bounds.pl', {
	perl => logging_script_header() . <<'EOS', python => logging_script_header() . <<'EOS' });
prefork_initialisation_complete(logger => \&logger, prefork_spares => 1);
open my $st, '<', '/proc/self/status' or die $!;
my ($hwm) = join('', <$st>) =~ /^VmHWM:\s*(\d+) kB/m;
print scalar(@ARGV), "\n";
print STDERR "hwm $hwm\n";
EOS
import re
prefork_interp.initialisation_complete(logger=logger, prefork_spares=1)
with open("/proc/self/status") as st:
    hwm = re.search(r"^VmHWM:\s*(\d+) kB", st.read(), re.M)[1]
print(len(sys.argv) - 1)
print(f"hwm {hwm}", file=sys.stderr)
EOS

# Linux lets a program start with up to 6 MiB of strings only when the
# stack limit is at least 24 MiB; raise it so the client can be given
# more strings than the cap.
sub run_big {
	my (@args) = @_;
	my $out = "$env->{dir}/big.out";
	my $pid = fork // die "fork: $!";
	if (!$pid) {
		system('prlimit', '--pid', $$, '--stack=' . (64 << 20)) == 0
			or POSIX::_exit(120);
		open STDOUT, '>', $out or POSIX::_exit(120);
		open STDERR, '>', "$out.err" or POSIX::_exit(120);
		exec $client, '-U', '-g', 'bounds', interpreter(), $script, @args or POSIX::_exit(121);
	}
	waitpid $pid, 0;
	my $err = slurp_file("$out.err");
	my ($hwm) = $err =~ /^hwm (\d+)$/m;
	$err =~ s/^hwm \d+\n//m;
	return ($?, slurp_file($out) . $err, $hwm);
}

my (undef, undef, $base) = run_big();
ok($base, "a call with no arguments: the executor's peak RSS is $base kB");

my $below = $MAX_STRINGS - 200;      # room for the environment and the interpreter
my ($st, $out, $hwm) = run_big(('') x $below);
is($st, 0, "$below empty arguments: the call runs") or diag substr($out, 0, 300);
is($out, "$below\n", 'and the script sees them all');
ok(defined $hwm, "$below empty arguments: the executor's peak RSS was read");
# Each string is at least a Perl string in @ARGV (about 50 bytes) and one
# in the decoder's list: bounded by the string cap, not by the bytes.
cmp_ok($hwm - $base, '<=', 48 * 1024,
       "$below empty arguments: the executor grew by at most 48 MiB (" . ($hwm - $base) . ' kB)');
my $big = 'x' x 100_000;
($st, $out, $hwm) = run_big(($big) x 56);
is($st, 0, '56 arguments of 100 kB (5.6 MB): exit 0');
is($out, "56\n", '56 arguments of 100 kB (5.6 MB): the call runs');
ok(defined $hwm, "5.6 MB request: the executor's peak RSS was read");
cmp_ok($hwm - $base, '<=', 4 * 5_600, '5.6 MB request: the executor grew by at most 4 times that ('
       . ($hwm - $base) . ' kB)');

($st, $out) = run_big(('') x ($MAX_STRINGS + 1));
is($st >> 8, 127, 'more than PFI_REQUEST_MAX_STRINGS arguments: exit 127');
like($out, qr/^prefork-interp: arguments and environment are too large to send \(limits: \d+ bytes, $MAX_STRINGS strings\)\n\z/,
     'and one line says why, with the limits');
is(scalar(() = $out =~ /\n/g), 1, 'only that line');

# A client that sends more anyway: the server refuses it as soon as it
# arrives, runs nothing and sends no status.
my $sock = "$env->{run}/sbounds";
unlink $log;
for my $case (['a million empty arguments (1 MB of NULs)', pack('N', 1 << 20) . "\0" x (1 << 20),
	       qr/request has more than $MAX_STRINGS strings/],
	      ['four million empty arguments (4 MB of NULs)', pack('N', 4 << 20) . "\0" x (4 << 20),
	       qr/request has more than $MAX_STRINGS strings/],
	      ['a length just over the cap', pack('N', (6 << 20) + (64 << 10) + 1) . "A=1\0\0perl\0$script\0",
	       qr/request length 6356993 exceeds 6356992/]) {
	my ($label, $request, $want) = @$case;
	# only what the log gained in this case counts (two log one line)
	my $from = length slurp_file($log);
	my $s = connect_path($sock) or die "connect $sock: $!";
	is(read_n($s, length OUR_GREETING, 5), OUR_GREETING, "$label: got the greeting");
	send_all($s, "\0");
	IO::FDPass::send(fileno $s, 1) for 0 .. 2;
	send_all($s, $request);
	is(read_n($s, 4, 10), '', "$label: no status sent back");
	close $s;
	ok(wait_for(sub { substr(slurp_file($log), $from) =~ $want }, 10),
	   "$label: refused and logged")
		or diag 'log since the case began: ' . substr(slurp_file($log), $from);
}

done_testing();
