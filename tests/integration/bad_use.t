# Bad use gets one clear line on stderr naming the problem and exit
# status 127, and leaves nothing behind.
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

sub lock_files {
	opendir my $run, $env->{run} or die "$env->{run}: $!";
	return sort grep { /^l/ } readdir $run;
}

sub nothing_left {
	my ($label, $locks_before) = @_;
	ok(wait_processes_gone($env->{dir}, 5), "$label: no process left behind")
		or diag "left: " . join ' ', processes_matching($env->{dir});
	is(join(' ', socket_files($env)), '', "$label: no socket left behind");
	# A start that made no server leaves no lock file either (the
	# servers of the long #! lines below leave theirs when they quit).
	my %before = map { $_ => 1 } @$locks_before;
	my @made = grep { !$before{$_} } lock_files();
	is("@made", '', "$label: no lock file left behind");
}

sub refused {
	my ($label, $cmd, $want, %opts) = @_;
	# the client's own errors exit 127 (README, after the usage forms)
	my $status = delete $opts{status} // 'exit 127';
	my @locks_before = lock_files();
	my $r = run_call($cmd, dir => $env->{dir}, %opts);
	is(describe_status($r->{status}), $status, "$label: $status");
	my @ours = grep { /^prefork-interp: / } split /\n/, $r->{err};
	is(scalar(@ours), 1, "$label: exactly one line from prefork-interp")
		or diag "stderr: $r->{err}";
	like($ours[0] // '', $want, "$label: the line names the problem");
	is($r->{out}, '', "$label: nothing on stdout");
	nothing_left($label, \@locks_before);
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
# a script dying in initialisation gives the standalone status
my $d = refused('dies during initialisation', [$dies], qr/initialisation of .* failed/,
		status => describe_status(standalone_status($dies)->{status}));
like($d->{err}, qr/^broken initialisation$/m, 'the script\'s own message reaches the caller');
isnt(describe_status($d->{status}), 'exit 0', 'a script dying in initialisation: not exit 0');

# Unusable run directories, with --fallback=refuse so that they are
# errors (by default the script runs directly: integration-fallback).
my %strict = (PREFORK_INTERP_FALLBACK => 'refuse');
my $bad = "$env->{dir}/badrun";
mkdir $bad or die; chmod 0777, $bad;
refused('run dir writable by others', [$good], qr/\Q$bad\E.*writable by others/, env => { %strict, PREFORK_INTERP_RUN_DIR => $bad });
chmod 0755, $bad;
my $badsub = run_subdir($bad, $>);
mkdir $badsub or die; chmod 0755, $badsub;
refused('run dir mode 0755', [$good], qr/\Q$badsub\E.*must be 0700/, env => { %strict, PREFORK_INTERP_RUN_DIR => $bad });
refused('run dir relative', [$good], qr/not an absolute path/, env => { %strict, PREFORK_INTERP_RUN_DIR => 'rel/dir' });
refused('run dir empty', [$good], qr/run directory override is empty/, env => { %strict, PREFORK_INTERP_RUN_DIR => '' });
mkdir "$env->{dir}/grp" or die; chmod 0770, "$env->{dir}/grp";
refused('parent writable by group', [$good], qr/grp.*writable by its group/, env => { %strict, PREFORK_INTERP_RUN_DIR => "$env->{dir}/grp/run" });
# nothing_left looks in the test's own run directory: the refused ones
# must be as empty of sockets and locks.
my @made = grep { -S $_ || m{/l[^/]*\z} } split /\n/,
	`find '$bad' '$env->{dir}/grp' -mindepth 1 2>/dev/null`;
is("@made", '', 'no socket or lock made in any refused run directory');
refused('bad fallback value', [$good], qr/PREFORK_INTERP_FALLBACK must be/, env => { PREFORK_INTERP_FALLBACK => 'x' });
refused('--list with a script', [$client, '--list', 'perl', $good], qr/--list takes no interpreter or script/);
refused('--kill-all with -f', [$client, '--kill-all', '-f'], qr/cannot be combined/);

# A '#!' line longer than the kernel reads (256 bytes since Linux 5.1)
# reaches the client cut short, as one argument that may still parse:
# the client must say so, not run on what is left of its options.
my $kernel_buf = 256;
my $head = "#!$client -U,-G,";
my $tail = ",perl,-w,-I/srv/app/lib,-I/srv/app/vendor/lib";
SKIP: {
	my $pad = $kernel_buf - 1 - length($head) - length(",perl,-w,-I/srv/ap");
	skip "the client's path ($client) leaves no room for the padding", 30
		if $pad < 1;
	my $body = "use Proc::Prefork::Interp;\nprefork_initialisation_complete();\nprint \"ran\\n\";\n";
	# cut inside the interpreter's arguments: parses, would run
	my $in_args = write_script($env, 'long-args.pl', $body,
				   interp => '-U,-G,' . ('x' x $pad) . $tail);
	refused('#! line cut in the interpreter arguments', [$in_args],
		qr/'#!' line of '\Q$in_args\E' is longer than the 255 bytes/);
	# cut before the interpreter: nothing to name but the cut
	my $in_opts = write_script($env, 'long-opts.pl', $body,
				   interp => '-U,-G,' . ('x' x 300) . $tail);
	refused('#! line cut in the options', [$in_opts],
		qr/'#!' line of '\Q$in_opts\E' is longer than the 255 bytes/);
	# the same script named on a command line: no cut, it runs
	my $r = run_call([$client, '-U,perl', $in_args], dir => $env->{dir});
	is(describe_status($r->{status}), 'exit 0',
	   'a script with a long #! line named on a command line: runs');
	is($r->{out}, "ran\n", '... and prints');
	# a long line that loses only trailing blanks: nothing was cut
	my $blank = write_script($env, 'long-blank.pl', $body,
				 interp => '-U,perl' . (' ' x 300));
	$r = run_call([$blank], dir => $env->{dir});
	is(describe_status($r->{status}), 'exit 0',
	   'a #! line longer only by trailing blanks: runs');
	is($r->{out}, "ran\n", '... and prints');
	kill_servers($env);
}

# Names are shown with their control characters escaped, so that the
# line stays one line and reads right: a script saved with CRLF line
# ends names the interpreter "perl\r".
my $crlf = "$env->{dir}/crlf.pl";
open my $crlf_fh, '>', $crlf or die "$crlf: $!";
print $crlf_fh "#!$client -U,perl\r\nprint 1;\r\n";
close $crlf_fh or die "$crlf: $!";
chmod 0755, $crlf;
my $cr = refused('#! line with CRLF line ends', [$crlf],
		 qr/cannot run interpreter 'perl\\r'/);
unlike($cr->{err}, qr/\r/, '#! line with CRLF line ends: no carriage return on stderr');
my $nl = write_script($env, "new\nline.pl", <<'EOS');
print STDERR "never calls it\n";
EOS
# (with an argument: run_call's exec of a one-word command would go
# through the shell, which splits the name at the newline)
refused('a script name with a newline', [$nl, 'x'],
	qr/new\\nline\.pl.*prefork_initialisation_complete/);

# And after all that, a good call still works.
my $r = run_call([$good], dir => $env->{dir});
is($r->{status}, 0, 'a good call still works');
is($r->{out}, "ran\n", 'and prints');

done_testing;
