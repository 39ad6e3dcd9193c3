# Interoperation with chiark-utils, both ways:
#   A: our client + chiark-utils' Proc::Prefork::Interp (system path)
#   B: chiark-utils' client (/usr/bin/prefork-interp) + our module (build tree)
# Each test proves which module served it ($INC) and which client ran.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;
use Time::HiRes qw(sleep);

my $chiark_client = '/usr/bin/prefork-interp';
my $chiark_inc = '/usr/share/perl5';
my $chiark_module = "$chiark_inc/Proc/Prefork/Interp.pm";
plan skip_all => "chiark-utils not installed ($chiark_client from chiark-utils-bin and "
	. "$chiark_module from chiark-scripts are needed; ./setup-tests installs them)"
	unless -x $chiark_client && -f $chiark_module;

my $env = new_env();
my $ours = perl_lib() . '/Proc/Prefork/Interp.pm';

# The script reports which module served it, its boot pid (changes with
# a fresh server), $0, @ARGV, one variable, what it read, and exits as
# asked.  'fast' flushes and leaves with POSIX::_exit, 'exit' by exit.
my $body = <<'EOS';
use strict;
use POSIX ();
use Proc::Prefork::Interp;
our $boot = $$;
prefork_initialisation_complete();
my ($how, $code, @rest) = @ARGV;
my $in = <STDIN>;
print "module=$INC{'Proc/Prefork/Interp.pm'}\n";
print "boot=$boot\nversion=VERSION\n";
print "argv=", join('|', @ARGV), "\n";
print "var=", $ENV{PFI_INTEROP} // '(unset)', "\n";
print "stdin=", $in // "EOF\n";
print STDERR "to-stderr\n";
if ($how eq 'fast') { STDOUT->flush; STDERR->flush; POSIX::_exit($code) }
exit $code;
EOS

sub script {
	my ($name, $version) = @_;
	(my $b = $body) =~ s/VERSION/$version/;
	return write_script($env, $name, $b);
}

sub field { my ($out, $k) = @_; return ($out =~ /^$k=(.*)$/m)[0] // '(none)' }

# Runs one pairing through the usual checks.
sub pairing {
	my ($label, $cmd_for, $module, $kill, %o) = @_;
	my $s = script("$o{name}.pl", 1);
	my @cmd = $cmd_for->($s);
	my %run = (dir => $env->{dir}, stdin => "hello\n", %{ $o{run} // {} });
	$run{env} = { PFI_INTEROP => 'v=1 x', %{ $o{run}{env} // {} } };

	my $r1 = run_call([@cmd, 'fast', 7, 'a b', ''], %run);
	is(field($r1->{out}, 'module'), $module, "$label: served by the expected module");
	is($r1->{status} >> 8, 7, "$label: exit status (flush + _exit)") or diag $r1->{err};
	is(field($r1->{out}, 'argv'), $o{argv_fast}, "$label: \@ARGV");
	is(field($r1->{out}, 'var'), 'v=1 x', "$label: environment passed");
	is(field($r1->{out}, 'stdin'), 'hello', "$label: stdin passed");
	like($r1->{err}, qr/^to-stderr$/m, "$label: stderr passed");

	my $r2 = run_call([@cmd, 'fast', 0], %run);
	is(field($r2->{out}, 'boot'), field($r1->{out}, 'boot'), "$label: second call reuses the server");
	is($r2->{status}, 0, "$label: exit 0");

	for my $code (0, 1, 42, 255) {
		my $r = run_call([@cmd, 'fast', $code], %run);
		is(describe_status($r->{status}), "exit $code", "$label: exit $code (flush + _exit)");
	}
	my @exit_wrong;
	for my $i (1 .. 20) {
		my $r = run_call([@cmd, 'exit', 5], %run);
		push @exit_wrong, describe_status($r->{status}) if $r->{status} != 5 << 8;
	}
	if ($o{exit_race}) {
		TODO: {
			local $TODO = "known chiark-utils module defect: its monitor signals the call's "
				. "group with SIGINT as soon as the executor's fds close, which perl's "
				. "exit does before the process has ended, so 'exit N' can come back as SIGINT";
			is("@exit_wrong", '', "$label: 'exit 5' gives exit 5 in 20 of 20 calls");
		}
	} else {
		is("@exit_wrong", '', "$label: 'exit 5' gives exit 5 in 20 of 20 calls");
	}

	# Auto-reload after editing the script.
	sleep 0.05;
	script("$o{name}.pl", 2);
	my $r3 = run_call([@cmd, 'fast', 0], %run);
	is(field($r3->{out}, 'version'), 2, "$label: edited script runs after auto-reload")
		or diag "status " . describe_status($r3->{status}) . ", stderr: $r3->{err}";
	isnt(field($r3->{out}, 'boot'), field($r2->{out}, 'boot'), "$label: by a fresh server");

	# --kill stops it.
	my $k = run_call([$kill->($s)], dir => $env->{dir}, %{ $o{run} // {} });
	is($k->{status}, 0, "$label: --kill succeeded") or diag $k->{err};
	ok(wait_processes_gone($s, 5), "$label: --kill stopped the server")
		or diag "left: " . join ' ', processes_matching($s);
}

my $client = client_path();

# A: our client, chiark-utils' module from its system directory, put
# first: an installed copy of our module (meson install, the Debian
# package) comes before /usr/share/perl5 in @INC and would serve instead.
pairing('our client + chiark module',
	sub { ($_[0]) },
	$chiark_module,
	sub { ($client, '--kill,-U,perl', $_[0]) },
	name => 'a', run => { env => { PERL5LIB => $chiark_inc } },
	# our client sees no 'full-argv' offer and sends only the arguments
	argv_fast => 'fast|7|a b|', exit_race => 1);

# B: chiark-utils' client, our module from the build tree (PERL5LIB).
my $ident = "pfi-interop-$$";
pairing('chiark client + our module',
	sub { ($chiark_client, '-g', $ident, '-U', 'perl', $_[0]) },
	$ours,
	sub { ($chiark_client, '--kill', '-g', $ident, '-U', 'perl', $_[0]) },
	name => 'b',
	# chiark's client sends "perl, script, args"; our module strips the two
	argv_fast => 'fast|7|a b|');

done_testing;
