# When the script cannot be served (here: an unsafe run directory), it
# still runs, exactly as a standalone run: the client execs the
# interpreter itself, with one line on stderr saying why it is not
# accelerated; --fallback / PREFORK_INTERP_FALLBACK make that line
# silent (quiet) or the case an error (refuse).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;

my $env = new_env();
my $client = client_path();
my $script = write_script($env, 'fb.pl', <<'EOS');
use Proc::Prefork::Interp;
prefork_initialisation_complete();
print "pid=$$\n0=$0\nargv=", join('|', @ARGV), "\n";
exit($ARGV[0] // 0) if ($ARGV[0] // '') =~ /^\d+$/;
kill 'TERM', $$ if ($ARGV[0] // '') eq 'term';
EOS
my $unsafe = "$env->{dir}/open";
mkdir $unsafe or die; chmod 0777, $unsafe;
my %bad = (PREFORK_INTERP_RUN_DIR => $unsafe);
my @args = ('a b', '', "tab\there", '--kill', '-U', '*');

sub field { my ($out, $k) = @_; return ($out =~ /^$k=(.*)$/m)[0] }
sub ours { my ($r) = @_; return grep { /^prefork-interp: / } split /\n/, $r->{err} }

# Default: runs directly, one line naming the problem, the fix and how
# to silence it.
my $p = start_call([$script, @args], dir => $env->{dir}, env => \%bad);
my $r = wait_call($p);
is($r->{status}, 0, 'unsafe run directory: the script still runs') or diag $r->{err};
is(field($r->{out}, 'pid'), $p->{pid}, 'in the process that was started (exec, no server)');
is(field($r->{out}, 'argv'), join('|', @args), 'with exactly its arguments');
my $standalone = run_call(['perl', $script, @args], dir => $env->{dir});
is(field($r->{out}, '0'), field($standalone->{out}, '0'), '$0 as a standalone run');
my @lines = ours($r);
is(scalar(@lines), 1, 'exactly one line from prefork-interp') or diag $r->{err};
like($lines[0] // '', qr/running '\Q$script\E' without a server \(not accelerated\): .*'\Q$unsafe\E' is writable by others/,
     'the line says why, naming the path');
like($lines[0] // '', qr/--run-dir DIR or PREFORK_INTERP_RUN_DIR.*--fallback=quiet/, 'and the fixes');
is(join(' ', PFIHarness::socket_files($env)), '', 'no socket anywhere');
opendir my $d, $unsafe or die;
is(join(' ', grep { !/^\.\.?$/ } readdir $d), '', 'nothing created in the unsafe directory');

for my $code (3, 255) {
	my $x = run_call([$script, $code], dir => $env->{dir}, env => \%bad);
	is(describe_status($x->{status}), "exit $code", "exit $code passes through");
}
my $t = run_call([$script, 'term'], dir => $env->{dir}, env => \%bad);
is(describe_status($t->{status}), describe_status(run_call(['perl', $script, 'term'])->{status}),
   'death by a signal as standalone');

# Quiet, by option (in the #! form too) and by variable.
my $quiet = write_script($env, 'quiet.pl', "print qq(quiet\\n);\n", interp => '-U,--fallback=quiet,perl');
$r = run_call([$quiet], dir => $env->{dir}, env => \%bad);
is($r->{status}, 0, '--fallback=quiet in the #! line: runs');
is($r->{err}, '', '--fallback=quiet: nothing on stderr');
is($r->{out}, "quiet\n", '--fallback=quiet: output');
$r = run_call([$script, 'x'], dir => $env->{dir}, env => { %bad, PREFORK_INTERP_FALLBACK => 'quiet' });
is($r->{err}, '', 'PREFORK_INTERP_FALLBACK=quiet: nothing on stderr');
is(field($r->{out}, 'argv'), 'x', 'PREFORK_INTERP_FALLBACK=quiet: runs');

# Refuse, by variable and by option; the option wins over the variable.
$r = run_call([$script], dir => $env->{dir}, env => { %bad, PREFORK_INTERP_FALLBACK => 'refuse' });
is($r->{status} >> 8, 127, 'PREFORK_INTERP_FALLBACK=refuse: exit 127');
is($r->{out}, '', 'PREFORK_INTERP_FALLBACK=refuse: the script did not run');
@lines = ours($r);
is(scalar(@lines), 1, 'refuse: one line');
like($lines[0] // '', qr/'\Q$unsafe\E' is writable by others.*--run-dir DIR or PREFORK_INTERP_RUN_DIR/,
     'refuse: the line names the path, the problem and the fix');
$r = run_call([$client, '-U', '--fallback', 'refuse', 'perl', $script], dir => $env->{dir}, env => \%bad);
is($r->{status} >> 8, 127, '--fallback refuse: exit 127');
$r = run_call([$client, '-U', '--fallback=warn', 'perl', $script], dir => $env->{dir},
	      env => { %bad, PREFORK_INTERP_FALLBACK => 'refuse' });
is($r->{status}, 0, 'the option wins over the variable');
is(scalar(ours($r)), 1, '--fallback=warn: one line');

# Bad values are errors, not silently taken.
$r = run_call([$script], dir => $env->{dir}, env => { PREFORK_INTERP_FALLBACK => 'loud' });
is($r->{status} >> 8, 127, 'a bad PREFORK_INTERP_FALLBACK is refused');
like($r->{err}, qr/^prefork-interp: PREFORK_INTERP_FALLBACK must be warn, quiet or refuse, not 'loud'\n\z/,
     'naming the variable and the choices');
$r = run_call([$client, '-U', '--fallback=sometimes', 'perl', $script], dir => $env->{dir});
like($r->{err}, qr/--fallback must be warn, quiet or refuse/, 'a bad --fallback is refused');

# An interpreter that cannot run either: one line, the one a served
# call would give, not the warning and then the error.
# The interpreter may itself be a '#!' file, whose own interpreter (or
# theirs, the kernel follows four) must run too.
sub put_exec {
	my ($path, $text) = @_;
	open my $fh, '>', $path or die "$path: $!";
	print $fh $text;
	close $fh or die "$path: $!";
	chmod 0755, $path;
}
put_exec("$env->{dir}/hash-bang-missing", "#!$env->{dir}/no-such-interp-xyz\n");
put_exec("$env->{dir}/hash-bang-loop", "#! $env->{dir}/hash-bang-loop -w\n");
for my $case (['no-such-interp-xyz', qr/No such file or directory/, 'missing'],
	      ["$env->{dir}/not-exec", qr/Permission denied/, 'not executable'],
	      [$env->{dir}, qr/Permission denied/, 'a directory'],
	      ["$env->{dir}/hash-bang-missing", qr/No such file or directory/, "a '#!' file naming a missing"],
	      ["$env->{dir}/hash-bang-loop", qr/Too many levels of symbolic links/, "a '#!' file naming itself as"]) {
	my ($interp, $why, $what) = @$case;
	open my $ne, '>', "$env->{dir}/not-exec" or die; close $ne;
	for my $mode ('warn', 'quiet') {
		$r = run_call([$client, '-U', "--fallback=$mode", $interp, $script], dir => $env->{dir}, env => \%bad);
		is($r->{status} >> 8, 127, "$what interpreter, --fallback=$mode: exit 127");
		like($r->{err}, qr/\Aprefork-interp: cannot run interpreter '\Q$interp\E': $why\n\z/,
		     "$what interpreter, --fallback=$mode: one line, naming it");
	}
}
# The search is execvp's: a non-executable file of that name earlier in
# PATH does not hide the real one later.
{
	my $bin = "$env->{dir}/shadow";
	mkdir $bin or die;
	open my $fh, '>', "$bin/perl" or die; close $fh;   # mode 0644
	$r = run_call([$client, '-U', 'perl', $script, 'z'], dir => $env->{dir},
		      env => { %bad, PATH => "$bin:$ENV{PATH}" });
	is($r->{status}, 0, 'a non-executable namesake earlier in PATH: still runs') or diag $r->{err};
	is(field($r->{out}, 'argv'), 'z', 'the real interpreter ran');
	is(scalar(ours($r)), 1, 'with the usual one line');
}
# A '#!' interpreter whose interpreter runs: the usual line, and it runs.
{
	put_exec("$env->{dir}/via-hash-bang", "#!$^X\n");
	$r = run_call([$client, '-U', "$env->{dir}/via-hash-bang", $script, 'w'],
		      dir => $env->{dir}, env => \%bad);
	is($r->{status}, 0, "a '#!' interpreter that runs: runs") or diag $r->{err};
	is(scalar(ours($r)), 1, 'with the usual one line');
}

# With a good run directory nothing is said and the server is used.
$p = start_call([$script, 'y'], dir => $env->{dir});
$r = wait_call($p);
is($r->{err}, '', 'good run directory: no line');
is(field($r->{out}, 'argv'), 'y', 'and it ran');
isnt(field($r->{out}, 'pid'), $p->{pid}, 'in a server\'s process, not the one started');
is(scalar(PFIHarness::socket_files($env)), 1, 'through a server');
done_testing;
