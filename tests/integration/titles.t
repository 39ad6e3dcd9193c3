# Process titles: every process that outlives a call (the server, its
# spares and the watcher) shows the script, never a caller's arguments,
# which every user can read in ps (an --api-token=... must not show).
# Also for the laundered mode (-L), whose initialisation never sees them.
# PFI_LANG=perl or python (tests/meson.build runs both): the Python
# module rewrites its command line to the interpreter and the script.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;
use Time::HiRes qw(sleep time);

my $env = new_env();
my $body = { perl => <<'EOS', python => <<'EOS' };
use strict;
use Proc::Prefork::Interp;
prefork_initialisation_complete(prefork_spares => 2);
select undef, undef, undef, 1 if grep { $_ eq '--slow' } @ARGV;
print "ran @ARGV\n";
EOS
import sys, time
import prefork_interp
prefork_interp.initialisation_complete(prefork_spares=2)
if "--slow" in sys.argv:
    time.sleep(1)
print("ran " + " ".join(sys.argv[1:]))
EOS
my $python = script_lang() eq 'python';
# What -L lets through to the initialisation: the module's path (and no
# bytecode written into the source tree).
my $keep = $python ? '-E,PYTHONPATH,-E,PYTHONDONTWRITEBYTECODE' : '-E,PERL5LIB';

sub cmdlines {
	my @found;
	for my $pid (processes_matching($env->{dir})) {
		open my $fh, '<', "/proc/$pid/cmdline" or next;
		local $/;
		my $cmd = <$fh> // next;
		$cmd =~ tr/\0/ /;
		push @found, "$pid: $cmd";
	}
	return @found;
}

for my $mode ('-U', '-L') {
	my $script = write_script($env, "titled$mode.pl", $body,
				  interp => "$mode,$keep," . interpreter());
	my $secret = "SECRET$mode" . int(rand 1e9);
	for my $i (1 .. 3) {
		my $r = run_call([$script, "--api-token=$secret-$i"], dir => $env->{dir});
		is($r->{out}, "ran --api-token=$secret-$i\n", "$mode call $i got its arguments")
			or diag $r->{err};
		# Right after the call returns: nothing of it may show,
		# not even for a moment.
		my @shown = grep { /\Q$secret\E/ } cmdlines();
		ok(!@shown, "$mode call $i: no process shows the caller's arguments")
			or diag join "\n", @shown;
	}
	# While a call runs: only its client (the caller's own process, whose
	# arguments a standalone run shows too) may show them.
	my $slow = start_call([$script, '--slow', "--api-token=$secret-slow"], dir => $env->{dir});
	my (%seen, $samples);
	my $until = time + 0.8;
	while (time < $until) {
		$seen{$_}++ for grep { $_ != $slow->{pid} } processes_matching("$secret-slow");
		$samples++;
		sleep 0.01;
	}
	my $r = wait_call($slow);
	is($r->{out}, "ran --slow --api-token=$secret-slow\n", "$mode slow call got its arguments")
		or diag $r->{err};
	ok(!%seen, "$mode: while a call runs ($samples looks), no process but its client shows its arguments")
		or diag join "\n", map { "$_: " . (slurp_file("/proc/$_/cmdline") // '') } keys %seen;
	my @all = cmdlines();
	ok((grep { /prefork-interp: watcher for \Q$script\E *\z/ } @all),
	   "$mode: the watcher's title names the script") or diag join "\n", @all;
	my @server = grep { /\Q$script\E/ && !/watcher/ } @all;
	ok(@server >= 2, "$mode: server and spares found") or diag join "\n", @all;
	my $title = $python ? qr/^\d+: \Q${\interpreter()}\E \Q$script\E *\z/
		: qr/^\d+: \Q$script\E \[prefork (?:server|spare)\](?: \d+ calls?)? *\z/;
	ok(!(grep { $_ !~ $title } @server),
	   "$mode: server and spares show only the script") or diag join "\n", @server;
	kill_servers($env);
}
done_testing;
