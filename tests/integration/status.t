# Exit statuses through the client are those of a standalone run, in
# every run: exit N for every N, falling off the end, die, signals, exec.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;

my $env = new_env();
# A call the client could not hand to a server would otherwise run the
# script directly: a standalone run compared with a standalone run.
$ENV{PREFORK_INTERP_FALLBACK} = 'refuse';
# PFI_LANG=perl or python (tests/meson.build runs both).
my $script = write_script($env, 'status.pl', { perl => <<'EOS', python => <<'EOS' });
use strict;
use Proc::Prefork::Interp;
prefork_initialisation_complete();
my ($how, $arg) = @ARGV;
$how //= 'end';
if ($how eq 'exit') { exit $arg }
if ($how eq 'die')  { die "deliberate\n" }
if ($how eq 'kill') { kill $arg, $$; sleep 5; exit 99 }
if ($how eq 'exec') { exec 'sh', '-c', "echo from-exec; exit $arg" or die "exec: $!" }
print "fell off the end\n";
EOS
import os, signal, sys, time
import prefork_interp
prefork_interp.initialisation_complete()
how, arg = (sys.argv[1:] + ["end", None])[:2]
if how == "exit":
    sys.exit(int(arg))
if how == "die":
    raise RuntimeError("deliberate")
if how == "kill":
    os.kill(os.getpid(), getattr(signal, "SIG" + arg))
    time.sleep(5)
    sys.exit(99)
if how == "exec":
    os.execvp("sh", ["sh", "-c", f"echo from-exec; exit {arg}"])
print("fell off the end")
EOS

sub same_as_standalone {
	my ($name, @args) = @_;
	my $want = standalone_status($script, @args);
	my $got = run_call([$script, @args], dir => $env->{dir});
	is(describe_status($got->{status}), describe_status($want->{status}),
	   "$name: status as standalone")
		or diag "stderr: $got->{err}";
	is($got->{out}, $want->{out}, "$name: stdout as standalone");
	return $got;
}

same_as_standalone('end');
my $d = same_as_standalone('die', 'die');
# perl's die prints the message; Python's uncaught exception its traceback
like($d->{err}, qr/^(?:RuntimeError: )?deliberate$/m, 'die message reaches the caller');
same_as_standalone("signal $_", 'kill', $_) for qw(TERM KILL INT HUP SEGV USR1);
my $e = same_as_standalone('exec', 'exec', 7);
is($e->{out}, "from-exec\n", 'exec: the new program ran with the caller\'s stdout');

# A caller that ignores SIGCHLD (exec keeps that) starts the server: the
# client must still learn how its setup went (it reported exit 0 and ran
# nothing, on every call, when the kernel reaped the setup for it).
{
	kill_servers($env);
	my @ign = ('perl', '-e', '$SIG{CHLD} = "IGNORE"; exec @ARGV or exit 126');
	my $want = standalone_status($script, 'exit', 5);
	for my $n (1, 2) {
		my $r = run_call([@ign, $script, 'exit', 5], dir => $env->{dir});
		is(describe_status($r->{status}), describe_status($want->{status}),
		   "SIGCHLD ignored by the caller, call $n: status as standalone")
			or diag $r->{err};
	}
	my $r = run_call([@ign, $script], dir => $env->{dir});
	is($r->{out}, "fell off the end\n", 'SIGCHLD ignored by the caller: the script ran');
	ok(scalar(processes_matching($script)), 'SIGCHLD ignored by the caller: a server runs');
}

# Every exit code, each compared with what it must be.
my @wrong;
for my $n (0 .. 255) {
	my $r = run_call([$script, 'exit', $n], dir => $env->{dir});
	push @wrong, "$n→" . describe_status($r->{status})
		unless $r->{status} == ($n << 8);
}
is("@wrong", '', 'exit N for N = 0..255 is reproduced exactly');

# Repetition: race-prone paths must hold in every run, not most.
my @cases = (['exit', 0], ['exit', 1], ['exit', 255], ['kill', 'TERM'],
	     ['kill', 'KILL'], ['die'], ['end'], ['exec', 3], ['kill', 'INT'],
	     ['kill', 'HUP'], ['kill', 'SEGV'], ['kill', 'USR1']);
my %want = map { my $c = $_; ("@$c" => standalone_status($script, @$c)->{status}) } @cases;
my @bad;
for my $i (1 .. 300) {
	my $c = $cases[$i % @cases];
	my $r = run_call([$script, @$c], dir => $env->{dir});
	push @bad, "run $i (@$c): " . describe_status($r->{status}) . " $r->{err}"
		unless $r->{status} == $want{"@$c"};
}
is(scalar(@bad), 0, '300 mixed calls all give the standalone status')
	or diag join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)];


# The first call of a script whose initialisation takes longer than the
# client's grace for a silent server (2 s), with its caller's reader
# gone before it starts (`script | true`): the server it is starting
# answers as soon as the initialisation, which runs for this very call,
# is done, and the call runs and meets the closed output as its
# standalone run does; it is not given up on with exit 127.
my $slow = write_script($env, 'slow-init.pl', { perl => <<'EOS', python => <<'EOS' });
use Proc::Prefork::Interp;
sleep 3;
prefork_initialisation_complete();
open my $mark, '>>', $ARGV[0] or die "$ARGV[0]: $!";
print $mark "ran\n";
close $mark;
print "to a closed pipe\n";
EOS
import sys, time
import prefork_interp
time.sleep(3)
prefork_interp.initialisation_complete()
with open(sys.argv[1], "a") as mark:
    mark.write("ran\n")
print("to a closed pipe")
EOS
sub reader_gone {
	my (@cmd) = @_;
	pipe(my $r, my $w) or die "pipe: $!";
	close $r;
	my $err = "$env->{dir}/reader-gone.err";
	my $pid = fork // die "fork: $!";
	if (!$pid) {
		open STDIN, '<', '/dev/null';
		open STDOUT, '>&', $w or POSIX::_exit(120);
		open STDERR, '>', $err or POSIX::_exit(120);
		exec @cmd or POSIX::_exit(121);
	}
	close $w;
	waitpid $pid, 0;
	my %res = (status => $?, err => slurp_file($err));
	unlink $err;
	return \%res;
}
my $mark = "$env->{dir}/slow-init.mark";
my $sa = reader_gone(interpreter(), $slow, $mark);
my $first = reader_gone($slow, $mark);
is(describe_status($first->{status}), describe_status($sa->{status}),
   'reader gone, first call with a slow initialisation: the standalone status');
is($first->{err}, $sa->{err}, '... and the standalone messages');
is(slurp_file($mark), "ran\nran\n", '... and the call ran');
kill_servers($env);

done_testing;
