# Every system call in policy/client.policy is used by some path of a
# real call, and no path uses one that is not listed.  Each path runs
# under strace -f; the calls counted are the client's, after the
# filter went in:
#   normal exit with extension data (read, poll, sendto, sendmsg, exit_group;
#     the server offers `signals`, so also signalfd4)
#   death by a signal, reproduced (rt_sigaction,
#     rt_sigprocmask, getpid, kill)
#   error exit on a bad greeting (write)
#   requests just below and above malloc's mmap threshold (brk, mmap, munmap)
#   stop and continue while waiting for the server (restart_syscall)
#   a caller with an fd above 2 (close, once passed: extra-fds)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep);
use Test::More;

if (my $off = sandbox_off()) { plan skip_all => $off }

my ($ok, $why) = have_strace();
plan skip_all => "strace: $why" unless $ok;

my $env = new_env();
my $client = client_path();
my %allowed = map { $_ => 1 } policy_syscalls();
my $FILTER = qr/^(?:seccomp\(SECCOMP_SET_MODE_FILTER, \d+, \{len=\d+|prctl\(PR_SET_SECCOMP, SECCOMP_MODE_FILTER).* = 0$/;
my %used;

my $script = write_script($env, 'cover.pl', <<'EOS');
use strict;
use Proc::Prefork::Interp;
prefork_initialisation_complete();
my ($how, $arg) = @ARGV;
if (($how // '') eq 'kill') { kill $arg, $$; sleep 5 }
if (($how // '') eq 'usr1') { $SIG{USR1} = sub { exit 7 }; sleep 10; exit 1 }
exit(($how // '') eq 'exit' ? $arg : 0);
EOS
is(run_call([$script, 'exit', 0], dir => $env->{dir})->{status}, 0, 'server is warm');

my $n = 0;
# Runs @cmd under strace; returns the wait status (of strace, which
# reports the client's ending as its own) and records the client's
# calls after the filter.
sub traced {
	my ($name, $cmd, %opts) = @_;
	my $log = "$env->{dir}/cover-" . $n++ . '.strace';
	my @pre = $opts{clean_env}
		? ('env', '-i', "PATH=$ENV{PATH}", "PERL5LIB=$ENV{PERL5LIB}",
		   "PREFORK_INTERP_RUN_DIR=$env->{run_dir}")
		: ();
	my $p = start_call([@pre, 'strace', '-f', '-qq', '-o', $log, @$cmd],
			   dir => $env->{dir}, env => $opts{env} // {});
	$opts{during}->($log) if $opts{during};
	my $r = wait_call($p);
	my ($pid, @calls) = strace_calls($log);
	my ($at) = grep { $calls[$_][1] =~ $FILTER } 0 .. $#calls;
	ok(defined $at, "$name: filter installed") or return $r;
	my @after = map { $_->[0] } @calls[$at + 1 .. $#calls];
	my @unlisted = grep { !$allowed{$_} } @after;
	is("@unlisted", '', "$name: only listed calls after the filter");
	$used{$_}{$name} = 1 for @after;
	return $r;
}

my $r = traced('normal exit', [$script, 'exit', 3]);
is(describe_status($r->{status}), 'exit 3', 'normal exit: status');

# signals extension: a signal sent to the client is taken with
# rt_sigtimedwait (the signalfd only wakes poll) and relayed.
$r = traced('signal relayed', [$script, 'usr1'], during => sub {
	my ($log) = @_;
	my $relaying = sub {
		open my $fh, '<', $log or return 0;
		my @l = <$fh>;
		my ($f) = grep { $l[$_] =~ /signalfd4?\(/ } 0 .. $#l;
		return defined $f && grep { /^\d+\s+poll\(/ } @l[$f .. $#l];
	};
	wait_for($relaying, 10) or diag 'client never waited with its signalfd';
	my ($pid) = do { open my $fh, '<', $log; <$fh> } =~ /^(\d+)/;
	sleep 0.3;
	kill 'USR1', $pid;
});
is(describe_status($r->{status}), 'exit 7', 'signal relayed: the script handled it');

$r = traced('signal death', [$script, 'kill', 'TERM']);
is(describe_status($r->{status}), 'signal 15', 'signal death: reproduced');

my $bad = start_fake($env, 'bad', 'bad-greeting');
$r = traced('error exit', [$client, '-g', 'bad', '-U', 'perl', 'x.pl']);
is(describe_status($r->{status}), 'exit 127', 'error exit: status');
like($r->{err}, qr/bad greeting/, 'error exit: message');
stop_fake($bad);

# A request below the mmap threshold (128 KiB) grows and trims the
# heap; one above it is mmapped and unmapped.
for my $size (100_000, 110_000, 120_000) {
	$r = traced("request of $size bytes", [$script, 'x' x $size], clean_env => 1);
	is($r->{status}, 0, "request of $size bytes: status") or diag $r->{err};
}
# Whether such a request still fits the heap malloc first set up depends
# on what ran before; with no top padding it never does, so the heap must
# grow (brk) behind the filter.
$r = traced('request of 100000 bytes, heap grown', [$script, 'z' x 100_000],
	    env => { GLIBC_TUNABLES => 'glibc.malloc.top_pad=0' });
is($r->{status}, 0, 'request of 100000 bytes, heap grown: status') or diag $r->{err};
$r = traced('request of 300000 bytes', [$script, ('y' x 100_000) x 3]);
is($r->{status}, 0, 'request of 300000 bytes: status') or diag $r->{err};

# Stopped and continued while polling for the greeting's extension
# data: the kernel resumes the poll with restart_syscall.
my $go = "$env->{dir}/go";
my $slow = start_fake($env, 'slow', 'slow-xdata', go => $go);
$r = traced('stop and continue', [$client, '-g', 'slow', '-U', 'perl', 'x.pl'],
	during => sub {
		my ($log) = @_;
		my $polling = sub {
			open my $fh, '<', $log or return 0;
			my @l = <$fh>;
			my ($f) = grep { $l[$_] =~ /SECCOMP_SET_MODE_FILTER, \d+, \{len/ } 0 .. $#l;
			return defined $f && grep { /^\d+\s+poll\(/ } @l[$f .. $#l];
		};
		wait_for($polling, 10) or diag 'client never polled';
		my ($pid) = do { open my $fh, '<', $log; <$fh> } =~ /^(\d+)/;
		sleep 0.2;
		kill 'STOP', $pid;
		sleep 0.3;
		kill 'CONT', $pid;
		sleep 0.2;
		open my $g, '>', $go; close $g;
	});
is(describe_status($r->{status}), 'exit 0', 'stop and continue: call completes');
stop_fake($slow);

# extra-fds: the caller's fd 5 is passed, then the client closes its copy.
{
	open my $five, '<', '/dev/null' or die;
	POSIX::dup2(fileno $five, 5) or die;
	$r = traced('extra fds', [$script, 'exit', 4]);
	POSIX::close(5);
	is(describe_status($r->{status}), 'exit 4', 'extra fds: status');
}

for my $call (sort keys %allowed) {
	ok($used{$call}, "policy entry '$call' is used")
		and note "$call: " . join ', ', sort keys %{ $used{$call} };
}

done_testing();
