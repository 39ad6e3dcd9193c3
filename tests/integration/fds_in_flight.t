# Many calls passing fds at once, by a user whose soft limit on open
# files is low: the kernel refuses a unix-socket fd message
# (ETOOMANYREFS) while the user's fds in flight (sent by any of its
# processes, not yet received) exceed the sender's limit.  That passes
# as the executors receive theirs, so every call must still run, with
# its status and its fds, as its standalone run does; none may exit 127
# or run directly for it.  Acted by uid 65534 (root is exempt from the
# count), with a soft limit of 20 and fds 3 to 10 open: 11 fds in flight
# per call, so two calls at once can exceed it.  Repeated.
# PFI_LANG=perl or python (tests/meson.build runs both).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;

need_root();
my ($pub, $why) = nobody_dir();
plan skip_all => "no directory that uid 65534 can use: $why" unless $pub;

use constant { CALLERS => 40, ROUNDS => 3, TOP => 10, SOFT => 20 };
my $run = nobody_run_dir($pub);
my $script = "$pub/inflight";
my $body = PFIHarness::body_for_lang({ perl => <<'EOS', python => <<'EOS' });
use Proc::Prefork::Interp;
my $init = $$;
prefork_initialisation_complete();
opendir my $d, '/proc/self/fd' or die;
my $own = fileno $d;
my @fds = grep { /^\d+$/ && $_ > 2 && $_ != $own } readdir $d;
print "served=", ($$ != $init ? 1 : 0), " fds=", join(',', sort { $a <=> $b } @fds), "\n";
exit 3;
EOS
import os, sys
import prefork_interp
init = os.getpid()
prefork_interp.initialisation_complete()
fds = sorted(int(n) for n in os.listdir("/proc/self/fd"))
fds = [n for n in fds if n > 2 and os.path.exists(f"/proc/self/fd/{n}")]
print(f"served={int(os.getpid() != init)} fds={','.join(map(str, fds))}", flush=True)
sys.exit(3)
EOS
open my $fh, '>', $script or die "$script: $!";
print $fh "#!" . client_path() . " -U," . interpreter() . "\n" . $body;
close $fh;
chmod 0755, $script;
my $file = "$pub/file";
open $fh, '>', $file or die "$file: $!";
close $fh;
my %env = (PREFORK_INTERP_RUN_DIR => $run, PERL5LIB => perl_lib(),
	   (script_lang() eq 'python' ? (PYTHONPATH => python_lib()) : ()));

# fds 3 to TOP open on $file, under a soft limit of SOFT, then @cmd.
my @caller = ('bash', '-c', 'ulimit -Sn ' . SOFT . ' && for n in $(seq 3 ' . TOP . '); do eval "exec $n<\"\$1\""; done && shift && exec "$@"', '_', $file);
my $want_fds = join ',', 3 .. TOP;

SKIP: {
	skip 'bash is not installed', 1 unless have_program('bash');
	my $alone = run_call(client_as_other(@caller, interpreter(), $script),
			     dir => $pub, env => \%env, unset => ['PREFORK_INTERP']);
	is(describe_status($alone->{status}), 'exit 3', 'standalone, such a caller runs the script') or diag $alone->{err};
	my $first = run_call(client_as_other(@caller, $script), dir => $pub, env => \%env);
	is(describe_status($first->{status}), 'exit 3', 'the first call starts the server') or diag $first->{err};
	for my $round (1 .. ROUNDS) {
		my @p = map { start_call(client_as_other(@caller, $script), dir => $pub, env => \%env) } 1 .. CALLERS;
		my @r = map { wait_call($_) } @p;
		my @bad = grep { describe_status($_->{status}) ne 'exit 3' } @r;
		is(scalar @bad, 0, "round $round: " . CALLERS . " calls at once, each with its own status")
			or diag join '', map { describe_status($_->{status}) . ": $_->{err}" } @bad[0 .. ($#bad < 4 ? $#bad : 4)];
		my @served = grep { $_->{out} =~ /^served=1 fds=\Q$want_fds\E$/m } @r;
		is(scalar @served, CALLERS, "round $round: ... all served, each with fds 3 to " . TOP)
			or diag join '', map { "$_->{out}$_->{err}" } grep { $_->{out} !~ /^served=1 fds=\Q$want_fds\E$/m } @r;
		my @said = grep { $_->{err} =~ /prefork-interp/ } @r;
		is(scalar @said, 0, "round $round: ... without a line from prefork-interp")
			or diag $said[0]{err};
	}
	run_call(client_as_other(client_path(), '--kill-all'), dir => $pub, env => \%env);
}

done_testing();
