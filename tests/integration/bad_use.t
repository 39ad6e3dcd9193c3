# Bad use gets one clear line on stderr naming the problem and a
# non-zero exit, and leaves nothing behind.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;

my $env = new_env();
my $client = client_path();
my $good = write_script($env, 'good.pl', <<'EOS');
use Proc::Prefork::Interp;
prefork_initialisation_complete();
print "ran\n";
EOS
my $never = write_script($env, 'never.pl', <<'EOS');
print STDERR "never calls it\n";
EOS
my $dies = write_script($env, 'dies.pl', <<'EOS');
use Proc::Prefork::Interp;
die "broken initialisation\n";
prefork_initialisation_complete();
EOS

sub nothing_left {
	my ($label) = @_;
	ok(wait_processes_gone($env->{dir}, 5), "$label: no process left behind")
		or diag "left: " . join ' ', processes_matching($env->{dir});
	is(join(' ', socket_files($env)), '', "$label: no socket left behind");
}

sub refused {
	my ($label, $cmd, $want, %opts) = @_;
	my $r = run_call($cmd, dir => $env->{dir}, %opts);
	isnt($r->{status}, 0, "$label: non-zero exit");
	my @ours = grep { /^prefork-interp: / } split /\n/, $r->{err};
	is(scalar(@ours), 1, "$label: exactly one line from prefork-interp")
		or diag "stderr: $r->{err}";
	like($ours[0] // '', $want, "$label: the line names the problem");
	is($r->{out}, '', "$label: nothing on stdout");
	nothing_left($label);
	return $r;
}

refused('no arguments', [$client], qr/no interpreter/);
refused('no interpreter', [$client, '-U'], qr/no interpreter/);
refused('missing -U', [$client, 'perl', $good], qr/need -U/);
refused('missing -U, #! form', [$client, '-f,perl', $good], qr/need -U/);
refused('unknown option', [$client, '-U', '-Z', 'perl', $good], qr/unknown option '-Z'/);
refused('unknown long option', [$client, '--frobnicate', '-U', 'perl', $good], qr/unknown option '--frobnicate'/);
refused('missing value', [$client, '-U,-E'], qr/-E needs a value/);
refused('missing script', [$client, '-U', 'perl'], qr/no script/);
refused('missing script, #! form', [$client, '-U,perl'], qr/no script/);
refused('bad -g', [$client, '-U', '-g', '../x', 'perl', $good], qr/-g needs/);
refused('nonexistent interpreter', [$client, '-U,no-such-interp-xyz', $good], qr/cannot run interpreter 'no-such-interp-xyz'/);
refused('never calls prefork_initialisation_complete', [$never], qr/without starting a server.*prefork_initialisation_complete/);
my $d = refused('dies during initialisation', [$dies], qr/initialisation of .* failed/);
like($d->{err}, qr/^broken initialisation$/m, 'the script\'s own message reaches the caller');
is(describe_status($d->{status}), describe_status(standalone_status($dies)->{status}),
   'a script dying in initialisation gives the standalone status');

# Unusable run directories.
my $bad = "$env->{dir}/badrun";
mkdir $bad or die; chmod 0777, $bad;
refused('run dir writable by others', [$good], qr/\Q$bad\E.*writable by others/, env => { PREFORK_INTERP_RUN_DIR => $bad });
chmod 0755, $bad;
refused('run dir mode 0755', [$good], qr/\Q$bad\E.*must be 0700/, env => { PREFORK_INTERP_RUN_DIR => $bad });
symlink $env->{run}, "$env->{dir}/linkrun" or die;
refused('run dir is a symlink', [$good], qr/linkrun.*symlink/, env => { PREFORK_INTERP_RUN_DIR => "$env->{dir}/linkrun" });
refused('run dir relative', [$good], qr/not an absolute path/, env => { PREFORK_INTERP_RUN_DIR => 'rel/dir' });
mkdir "$env->{dir}/grp" or die; chmod 0770, "$env->{dir}/grp";
refused('parent writable by group', [$good], qr/grp.*writable by its group/, env => { PREFORK_INTERP_RUN_DIR => "$env->{dir}/grp/run" });

# And after all that, a good call still works.
my $r = run_call([$good], dir => $env->{dir});
is($r->{status}, 0, 'a good call still works');
is($r->{out}, "ran\n", 'and prints');

done_testing;
