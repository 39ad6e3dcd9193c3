# Bounds on the request (SECURITY.md, "Bounded decoding"): at most
# PFI_REQUEST_MAX bytes and PFI_REQUEST_MAX_STRINGS entries and
# arguments (src/protocol.h).  The client refuses to send more, in one
# clear line, before it reaches any server.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;

my $MAX_STRINGS = 1 << 18;
my $env = new_env();
my $client = client_path();
my $script = write_script($env, 'bounds.pl', <<'EOS');
use strict;
use Proc::Prefork::Interp;
prefork_initialisation_complete();
print scalar(@ARGV), "\n";
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
		open STDERR, '>&', \*STDOUT or POSIX::_exit(120);
		exec $client, '-U', 'perl', $script, @args or POSIX::_exit(121);
	}
	waitpid $pid, 0;
	return ($?, do { local $/; open my $f, '<', $out; <$f> // '' });
}

my $below = $MAX_STRINGS - 200;      # room for the environment and the interpreter
my ($st, $out) = run_big(('') x $below);
is($st, 0, "$below empty arguments: the call runs") or diag substr($out, 0, 300);
is($out, "$below\n", 'and the script sees them all');

($st, $out) = run_big(('') x ($MAX_STRINGS + 1));
is($st >> 8, 127, 'more than PFI_REQUEST_MAX_STRINGS arguments: exit 127');
like($out, qr/^prefork-interp: arguments and environment are too large to send \(limits: \d+ bytes, $MAX_STRINGS strings\)\n\z/,
     'and one line says why, with the limits');
is(scalar(() = $out =~ /\n/g), 1, 'only that line');

done_testing();
