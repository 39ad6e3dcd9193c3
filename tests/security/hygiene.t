# Per-call hygiene (SECURITY.md, "Per-call hygiene"): each executor
# holds no fd but its caller's (0-2, and the first caller's fd 9 in the
# first call only: none of the server's, none of another call's), has default, unblocked SIGINT and SIGPIPE even when
# the server was started by a caller that ignored and blocked them, runs
# in its own process group, and gets a freshly seeded rand() although
# the server used rand() before forking.  PFI_LANG=perl or python
# (tests/meson.build runs both).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use POSIX ();
use Test::More;
use Time::HiRes qw(time);

need_root();

my $env = new_env();
my $client = client_path();
my $script = write_script($env, 'report.pl', { perl => <<'EOS', python => <<'EOS' });
use strict;
use warnings;
use POSIX ();
use Proc::Prefork::Interp;
my $warm = rand();    # seeds the server's generator: every fork copies it
prefork_initialisation_complete(prefork_spares => 1, max_servers => 8);
select undef, undef, undef, $1 if ($ARGV[0] // '') =~ /^sleep([\d.]+)$/;
opendir my $d, '/proc/self/fd' or die;
my $own = fileno $d;
my @fds = sort { $a <=> $b } grep { /^\d+$/ && $_ != $own } readdir $d;
closedir $d;
my %st;
open my $s, '<', '/proc/self/status' or die;
while (<$s>) { $st{$1} = hex $2 if /^(Sig\w+):\s+([0-9a-f]+)/ }
my $bit = sub { my ($field, $sig) = @_; return ($st{$field} >> ($sig - 1)) & 1 };
printf "fds=%s\n", join ',', @fds;
printf "targets=%s\n", join ' ', map { "$_:" . (readlink("/proc/self/fd/$_") // '?') } @fds;
printf "int=%d%d\npipe=%d%d\n", $bit->('SigIgn', 2), $bit->('SigBlk', 2),
	$bit->('SigIgn', 13), $bit->('SigBlk', 13);
printf "pid=%d pgrp=%d\n", $$, getpgrp;
printf "rand=%.17g\n", rand();
EOS
import os, random, re, sys, time
import prefork_interp
warm = random.random()    # the server's generator state: every fork copies it
prefork_interp.initialisation_complete(prefork_spares=1, max_servers=8)
m = re.fullmatch(r"sleep([\d.]+)", sys.argv[1] if len(sys.argv) > 1 else "")
if m:
    time.sleep(float(m[1]))
fds = sorted(int(f) for f in os.listdir("/proc/self/fd"))
fds = [fd for fd in fds if os.path.exists(f"/proc/self/fd/{fd}")]
st = {}
with open("/proc/self/status") as s:
    for line in s:
        k = re.match(r"(Sig\w+):\s+([0-9a-f]+)", line)
        if k:
            st[k[1]] = int(k[2], 16)
def bit(field, sig):
    return (st[field] >> (sig - 1)) & 1
def target(fd):
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return "?"
print("fds=" + ",".join(map(str, fds)))
print("targets=" + " ".join(f"{fd}:{target(fd)}" for fd in fds))
print(f"int={bit('SigIgn', 2)}{bit('SigBlk', 2)}")
print(f"pipe={bit('SigIgn', 13)}{bit('SigBlk', 13)}")
print(f"pid={os.getpid()} pgrp={os.getpgrp()}")
print(f"rand={random.random()!r}")
EOS

# The first call starts the server from a caller that ignores and blocks
# SIGINT and SIGPIPE, as a background job or nohup would: the server
# inherits that, and the executor must not.
# It also holds an extra fd (9, the write end of a pipe), as callers
# often do: its own call gets it (extra-fds), but the server must not
# keep it, or the reader would never see EOF and every later call would
# inherit the first caller's fd.
my $out = "$env->{dir}/first.out";
pipe(my $extra_r, my $extra_w) or die;
my $pid = fork // die;
if (!$pid) {
	close $extra_r;
	POSIX::dup2(fileno $extra_w, 9) or POSIX::_exit(119);
	$SIG{INT} = 'IGNORE';
	$SIG{PIPE} = 'IGNORE';
	POSIX::sigprocmask(POSIX::SIG_BLOCK(), POSIX::SigSet->new(POSIX::SIGINT(), POSIX::SIGPIPE()));
	open STDIN, '<', '/dev/null';
	open STDOUT, '>', $out or POSIX::_exit(120);
	exec $script, 'first' or POSIX::_exit(121);
}
close $extra_w;
waitpid $pid, 0;
is($?, 0, 'first call (server start) with SIGINT and SIGPIPE ignored and blocked');
{
	my $t0 = time;
	my $got = read_n($extra_r, 1, 5);
	ok($got eq '' && time - $t0 < 4, 'the first caller\'s extra fd is not held by the server: its reader sees EOF');
}
my @reports = (slurp_file($out));
my $server;
wait_for(sub { $server = server_pid_of($script) }, 5);
ok($server, 'found the server');
diag join "\n", map { my $c = slurp_file("/proc/$_/cmdline"); $c =~ tr{\0}{|}; "$_ $c" } processes_matching($script) unless $server;
# The server sets its own dispositions of INT (and TERM, HUP) to take
# them itself (it keeps the script's handlers, for the calls): what
# could leak is the first caller's state, which its own call shows.
like($reports[0], qr/^int=11$/m, 'the first call had its caller\'s ignored, blocked SIGINT (so the test means something)');

push @reports, run_call([$script, "seq$_"], dir => $env->{dir})->{out} for 1 .. 5;

# Concurrent calls: with one spare, later ones are forked while others
# are running and holding their callers' fds.
my @p = map { start_call([$script, 'sleep0.5'], dir => $env->{dir}) } 1 .. 4;
push @reports, map { wait_call($_)->{out} } @p;

my (%rand, $n);
for my $rep (@reports) {
	$n++;
	my %f = $rep =~ /^(\w+)=(.*)$/mg;
	if ($n == 1) {
		is($f{fds}, '0,1,2,9', "call 1: only fds 0, 1, 2 and its caller's 9 are open") or diag $f{targets};
	} else {
		is($f{fds}, '0,1,2', "call $n: only fds 0, 1 and 2 are open") or diag $f{targets};
	}
	# Each call has its own caller's signal state (issue 12): the first
	# caller's ignored and blocked signals reach its own call only.
	my $own = $n == 1 ? '11' : '00';
	my $as = $n == 1 ? 'ignored and blocked, as its caller had them'
			 : 'default and unblocked';
	is($f{int}, $own, "call $n: SIGINT $as");
	# Python ignores SIGPIPE itself at start-up, as every standalone run.
	if (script_lang() eq 'python' && $n > 1) {
		is($f{pipe}, '10', "call $n: SIGPIPE ignored (by Python itself) and unblocked");
	} else {
		is($f{pipe}, $own, "call $n: SIGPIPE $as");
	}
	my ($p, $g) = ($f{pid} // '') =~ /^(\d+) pgrp=(\d+)$/;
	ok($p && $p == $g, "call $n: in its own process group") or diag $rep;
	isnt($g, getpgrp, "call $n: not in the caller's process group");
	isnt($g, $server, "call $n: not in the server's process group");
	$rand{$f{rand} // 'none'}++;
}
# (For Python this shows the property, not the module's reseed: CPython's
# random reseeds its global generator at os.fork by itself.)
is(scalar(keys %rand), $n, "$n calls drew $n different rand() numbers without seeding")
	or diag explain \%rand;
ok(kill_servers($env), 'no process left behind');
done_testing;
