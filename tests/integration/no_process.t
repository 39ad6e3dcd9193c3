# A caller at its process limit (RLIMIT_NPROC): the client cannot fork
# the watcher or the setup that starting a server needs, but a
# standalone run needs no new process (the client becomes the
# interpreter). So the script runs directly, with the one line the
# other cases of "not served" give (fallback.t), and nothing is left
# behind. Acted by uid 65534 under `prlimit --nproc`, which only root
# can arrange.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;

need_root();
plan skip_all => 'prlimit (util-linux) is needed to set a process limit'
	unless have_program('prlimit');
my ($pub, $why) = nobody_dir();
plan skip_all => "no directory that uid 65534 can use: $why" unless $pub;

my $client = client_path();
my $run = nobody_run_dir($pub);
my $script = "$pub/np.pl";
open my $fh, '>', $script or die "$script: $!";
print $fh "#!$client -U,perl\nuse Proc::Prefork::Interp;\n"
	. "prefork_initialisation_complete();\nprint \"pid=\$\$ argv=\@ARGV\\n\";\n"
	. "exit 4;\n";
close $fh;
chmod 0755, $script;
my %env = (PREFORK_INTERP_RUN_DIR => $run, PERL5LIB => perl_lib());

# uid 65534's processes now: the limit lets the client itself start
# (execve after setuid checks it too) and no process more.
sub limit_for_one_more {
	opendir my $d, '/proc' or die $!;
	my $n = grep { /^\d+$/ && ((stat "/proc/$_")[4] // -1) == OTHER_UID } readdir $d;
	return $n + 1;
}

for my $round (1 .. 3) {
	my $limit = limit_for_one_more();
	my $p = start_call(['prlimit', "--nproc=$limit:$limit", '--',
			    @{ client_as_other($script, 'a', 'b') }],
			   dir => $pub, env => \%env);
	my $r = wait_call($p);
	is(describe_status($r->{status}), 'exit 4', "round $round: the script ran, with its own status")
		or diag $r->{err};
	like($r->{out}, qr/^pid=$p->{pid} argv=a b$/m,
	     "round $round: directly, in the caller's process, with its arguments");
	one_prefork_line($r, qr/^prefork-interp: running '\Q$script\E' without a server \(not accelerated\): cannot fork the (watcher|setup): Resource temporarily unavailable \(no new process can be made now\)/,
			 "round $round");
	# (the user's own directory in it; lock files stay, by design)
	my @left;
	if (opendir my $d, "$run/prefork-interp-" . OTHER_UID) {
		@left = grep { !/^\.\.?$/ && !/^l/ } readdir $d;
	}
	is("@left", '', "round $round: no socket left in the run directory");
	ok(!processes_matching($script), "round $round: no process of the script left");
}

# Refused on request, as every other case of "not served".
{
	my $limit = limit_for_one_more();
	my $r = run_call(['prlimit', "--nproc=$limit:$limit", '--',
			  @{ client_as_other($script) }],
			 dir => $pub, env => { %env, PREFORK_INTERP_FALLBACK => 'refuse' });
	is(describe_status($r->{status}), 'exit 127', 'fallback refused: exit 127');
	one_prefork_line($r, qr/cannot fork the (watcher|setup)/, 'fallback refused');
	is($r->{out}, '', 'fallback refused: the script did not run');
}

done_testing;
