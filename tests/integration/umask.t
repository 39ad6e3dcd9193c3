# The caller's umask is its script's (a standalone run's files get it),
# but not the client's own files: the run directory it creates is 0700
# and its lock files 0600 under any umask, so that a caller with umask
# 0177 or 0277 neither makes a directory without its search bit nor a
# lock that the next caller cannot open again (either would leave every
# later call of the user's scripts unserved or failing).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;

my $env = new_env();
my $client = client_path();
# A call the client could not hand to a server would run the script
# directly: refuse that instead, so that each call here is served.
$ENV{PREFORK_INTERP_FALLBACK} = 'refuse';
my $script = write_script($env, 'umask.pl', <<'EOS');
use Proc::Prefork::Interp;
prefork_initialisation_complete();
printf "umask %04o\n", umask;
EOS

sub under_umask {
	my ($mask, $run_dir, @cmd) = @_;
	return run_call(['sh', '-c', "umask $mask && exec \"\$@\"", 'sh', @cmd],
			dir => $env->{dir},
			env => { PREFORK_INTERP_RUN_DIR => $run_dir });
}

sub mode_of { my @st = lstat $_[0]; return @st ? sprintf('%04o', $st[2] & 07777) : 'missing' }

for my $mask (qw(0177 0277 0377)) {
	# The override names a directory; the client makes its own
	# subdirectory there.
	my $run_dir = "$env->{dir}/run-$mask";
	mkdir $run_dir, 0700 or die "$run_dir: $!";
	my $ours = run_subdir($run_dir, $>);
	for my $round (1 .. 2) {
		my $r = under_umask($mask, $run_dir, $script);
		is(describe_status($r->{status}) . " $r->{out}", "exit 0 umask $mask\n",
		   "umask $mask, call $round: served, and the script has the caller's umask")
			or diag $r->{err};
	}
	is(mode_of($ours), '0700', "umask $mask: the run directory the client made is 0700");
	my @locks = grep { m{/l[^/]*\z} } glob("$ours/*");
	ok(@locks, "umask $mask: a lock file was made");
	is(join(' ', map { mode_of($_) } @locks), join(' ', ('0600') x @locks),
	   "umask $mask: lock files are 0600");
	my $r = under_umask('022', $run_dir, $script);
	is(describe_status($r->{status}) . " $r->{out}", "exit 0 umask 0022\n",
	   "umask $mask, then 022: served") or diag $r->{err};
	$r = under_umask($mask, $run_dir, $client, '--kill', $script);
	is(describe_status($r->{status}) . " $r->{err}", 'exit 0 ',
	   "umask $mask: --kill works") or diag $r->{err};
	# After --kill the lock is made afresh by the next first call.
	$r = under_umask($mask, $run_dir, $script);
	is(describe_status($r->{status}) . " $r->{out}", "exit 0 umask $mask\n",
	   "umask $mask: a fresh server after --kill") or diag $r->{err};
	$r = under_umask('022', $run_dir, $client, '--kill', $script);
	is(describe_status($r->{status}), 'exit 0', "umask $mask: --kill again");
}
ok(wait_processes_gone($env->{dir}, 10), 'no server left behind')
	or diag 'left: ' . join ' ', processes_matching($env->{dir});

done_testing;
