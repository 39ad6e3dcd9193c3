# --list, --kill and --kill-all only look and stop: they create no run
# directory and no file; bad uses of them (a script that does not exist,
# options that make no sense together) get one line naming the problem
# and exit status 127; and --list shows names and directories with their
# control characters escaped, never raw on the terminal.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;

my $env = new_env();
my $client = client_path();
my $dir = $env->{dir};
my $good = write_script($env, 'good.pl', <<'EOS');
use Proc::Prefork::Interp;
prefork_initialisation_complete();
print "server=", getppid(), "\n";
EOS

sub entries {
	my ($d) = @_;
	opendir my $h, $d or return "cannot read $d: $!";
	return join ' ', sort grep { !/^\.\.?\z/ } readdir $h;
}

sub our_lines { my ($r) = @_; return grep { /^prefork-interp: / } split /\n/, $r->{err} }

sub refused {
	my ($label, $cmd, $want, %opts) = @_;
	my $r = run_call($cmd, dir => $dir, %opts);
	is(describe_status($r->{status}), 'exit 127', "$label: exit 127");
	my @ours = our_lines($r);
	is(scalar(@ours), 1, "$label: exactly one line from prefork-interp")
		or diag "stderr: $r->{err}";
	like($ours[0] // '', $want, "$label: the line names the problem");
	is($r->{out}, '', "$label: nothing on stdout");
	return $r;
}

# A run directory override whose own subdirectory does not exist yet:
# looking and stopping leave it so.
my $fresh = "$dir/fresh";
mkdir $fresh, 0700 or die "mkdir $fresh: $!";
my %in_fresh = (env => { PREFORK_INTERP_RUN_DIR => $fresh });
{
	my $r = run_call([$client, '--list'], dir => $dir, %in_fresh);
	is(describe_status($r->{status}), 'exit 0', '--list, no run directory yet: exit 0')
		or diag $r->{err};
	is($r->{err}, '', '--list, no run directory yet: nothing on stderr');
	is(scalar(grep { !/^#|^PID/ } split /\n/, $r->{out}), 0,
	   '--list, no run directory yet: no server listed') or diag $r->{out};
	like($r->{out}, qr/^# run directory \Q${\ run_subdir($fresh, $>)}\E \(none yet\)$/m,
	     '--list, no run directory yet: says where it would be, and that it is not there')
		or diag $r->{out};
	is(entries($fresh), '', '--list created nothing');
	for my $cmd (['--kill-all'], ['--kill', $good], ['--kill,-U,perl', $good],
		     ['--kill', '-g', 'some-name']) {
		$r = run_call([$client, @$cmd], dir => $dir, %in_fresh);
		is(describe_status($r->{status}), 'exit 0', "@$cmd, no run directory yet: exit 0")
			or diag $r->{err};
		is($r->{err}, '', "@$cmd, no run directory yet: nothing on stderr");
		is(entries($fresh), '', "@$cmd created nothing");
	}
}

# Nor is an unsafe one taken for absent: an existing own subdirectory of
# the wrong mode is still refused.
{
	my $lax = "$dir/lax";
	mkdir $lax, 0700 or die;
	my $sub = run_subdir($lax, $>);
	mkdir $sub or die; chmod 0755, $sub;
	for my $cmd (['--list'], ['--kill-all'], ['--kill', $good]) {
		refused("@$cmd, run directory mode 0755", [$client, @$cmd], qr/\Q$sub\E.*must be 0700/,
			env => { PREFORK_INTERP_RUN_DIR => $lax });
	}
	# and one that is a symlink to another directory is followed and
	# checked, not taken for absent
	mkdir "$dir/fresh-link", 0700 or die;
	symlink $sub, run_subdir("$dir/fresh-link", $>) or die;
	refused('--list, own subdirectory a symlink to a mode 0755 one', [$client, '--list'],
		qr/must be 0700/, env => { PREFORK_INTERP_RUN_DIR => "$dir/fresh-link" });
	# a dangling symlink is not "none yet" either
	mkdir "$dir/dangling", 0700 or die;
	symlink "$dir/nowhere", run_subdir("$dir/dangling", $>) or die;
	refused('--list, own subdirectory a dangling symlink', [$client, '--list'],
		qr/does not exist/, env => { PREFORK_INTERP_RUN_DIR => "$dir/dangling" });
	# a DIR that does not exist is a mistake, not an empty list
	refused('--list, --run-dir naming nothing', [$client, "--run-dir=$dir/no-such", '--list'],
		qr/no-such' does not exist/);
}

# --kill of a path that names no file: a typo, said so.
refused('--kill of a script that does not exist', [$client, '--kill', "$dir/typo.pl"],
	qr/--kill: script '\Q$dir\E\/typo\.pl' does not exist/);
refused('--kill of a script that does not exist, no run directory yet',
	[$client, '--kill', "$dir/typo.pl"], qr/typo\.pl' does not exist/, %in_fresh);
refused('--kill of a directory', [$client, '--kill', $dir], qr/is a directory/);
is(entries($fresh), '', '... and created nothing');

# A script deleted while its server runs: --kill still stops the server
# (that is why one kills it), with no complaint.
{
	my $gone = write_script($env, 'gone.pl', <<'EOS');
use Proc::Prefork::Interp;
prefork_initialisation_complete();
print "server=", getppid(), "\n";
EOS
	my $r = run_call([$gone], dir => $dir);
	my ($server) = $r->{out} =~ /^server=(\d+)$/m;
	ok($server, 'a server for the script to delete') or diag $r->{err};
	unlink $gone or die;
	$r = run_call([$client, '--kill', $gone], dir => $dir);
	is(describe_status($r->{status}), 'exit 0', '--kill of a deleted script with a server: exit 0')
		or diag $r->{err};
	is($r->{err}, '', '... nothing on stderr');
	ok(wait_for(sub { !kill 0, $server }, 10), '... and its server is gone');
}

# Options that make no sense together, or leftovers.
refused('--kill with --list', [$client, '--kill', '--list'], qr/--kill and --list cannot be combined/);
refused('--kill-all with --kill', [$client, '--kill-all', '--kill', $good],
	qr/--kill and --kill-all cannot be combined/);
refused('--kill-all with -g', [$client, '--kill-all', '-g', 'x'], qr/-g names one server: not with --kill-all/);
refused('--list with -g', [$client, '--list', '-g', 'x'], qr/-g names one server: not with --list/);
refused('--kill with arguments after the script', [$client, '--kill', $good, $good, $good],
	qr/--kill takes no arguments after the script/);

# --list shows a hostile script name and working directory escaped.
{
	my $evil_dir = "$dir/cwd\e[2J\a";
	mkdir $evil_dir, 0700 or die "mkdir: $!";
	my $evil = write_script($env, "evil\e]0;owned\a\r.pl", <<'EOS');
use Proc::Prefork::Interp;
prefork_initialisation_complete();
print "server=", getppid(), "\n";
EOS
	my $p = start_call(['sh', '-c', 'cd "$1" && exec "$2" x', 'sh', $evil_dir, $evil], dir => $dir);
	my $r = wait_call($p);
	ok($r->{out} =~ /^server=\d+$/m, 'a server for the hostile name') or diag $r->{err};
	my $l = run_call([$client, '--list'], dir => $dir);
	is(describe_status($l->{status}), 'exit 0', '--list with a hostile name: exit 0') or diag $l->{err};
	unlike($l->{out}, qr/[\x00-\x09\x0b-\x1f\x7f]/, '--list: no control character reaches the output raw');
	like($l->{out}, qr/evil\\x1b\]0;owned\\x07\\r\.pl/, '--list: the script name escaped');
	like($l->{out}, qr/cwd\\x1b\[2J\\x07\)$/m, '--list: the directory escaped');
	my $rd = "$dir/run\e[1m";
	mkdir $rd, 0700 or die;
	$l = run_call([$client, "--run-dir=$rd", '--list'], dir => $dir);
	unlike($l->{out}, qr/[\x00-\x09\x0b-\x1f\x7f]/, '--list: the run directory escaped');
	kill_servers($env);
}

# Output that cannot be written is an error said on stderr, for each of
# the options that print (a full disk, a closed pipe).
SKIP: {
	skip 'no /dev/full here', 12 unless -c '/dev/full';
	for my $opt ('--help', '--version', '--list') {
		my $r = run_call(['sh', '-c', 'exec "$@" >/dev/full', 'sh', $client, $opt], dir => $dir);
		is(describe_status($r->{status}), 'exit 127', "$opt to a full disk: exit 127");
		my @ours = our_lines($r);
		is(scalar(@ours), 1, "$opt to a full disk: exactly one line from prefork-interp")
			or diag "stderr: $r->{err}";
		like($ours[0] // '', qr/writing .*No space left on device/, "$opt to a full disk: says so");
		is($r->{err}, join('', map { "$_\n" } @ours), "$opt to a full disk: nothing else on stderr");
	}
}

# A closed stdout is nowhere to print to: the same one line, not the
# silence of writing to the /dev/null put there to keep fd 1 taken.
for my $opt ('--help', '--version', '--list') {
	my $r = run_call(['sh', '-c', 'exec "$@" >&-', 'sh', $client, $opt], dir => $dir);
	is(describe_status($r->{status}), 'exit 127', "$opt with stdout closed: exit 127");
	my @ours = our_lines($r);
	is(scalar(@ours), 1, "$opt with stdout closed: exactly one line from prefork-interp")
		or diag "stderr: $r->{err}";
	like($ours[0] // '', qr/standard output is closed/, "$opt with stdout closed: says so");
}

ok(wait_processes_gone($dir, 10), 'no process left behind')
	or diag 'left: ' . join ' ', processes_matching($dir);
done_testing;
