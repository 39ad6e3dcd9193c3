# The filter is in force before the first byte from the server is
# decoded: a test-only build of the client (prefork-interp-testhooks)
# tries a forbidden system call right where it starts decoding the
# greeting of a misbehaving server, and dies of SIGSYS.  The installed
# client carries no such hook.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use POSIX qw(:sys_wait_h);
use Config;
use Test::More;

if (my $off = sandbox_off()) { plan skip_all => $off }

my %signo;
@signo{split ' ', $Config{sig_name}} = split ' ', $Config{sig_num};
my $SIGSYS = $signo{SYS};

my $env = new_env();
my $hooks = hooks_client();
my $client = client_path();
my $fake = start_fake($env, 'bad', 'bad-greeting');
my @cmd = ('-g', 'bad', '-U', 'perl', "$env->{dir}/never-run.pl");

sub with_hook {
	my ($action, %more) = @_;
	return run_call([$hooks, @cmd], dir => $env->{dir},
			env => { PFI_TEST_HOOK => "decode-greeting:$action", %more });
}

# Without a hook action, the misbehaving server is refused in words.
my $r = run_call([$hooks, @cmd], dir => $env->{dir});
is(describe_status($r->{status}), 'exit 127', 'bad greeting: exit 127');
like($r->{err}, qr/bad greeting/, 'bad greeting: says so');

# "none" only proves the hook sits at the decoder and runs.
$r = with_hook('none');
like($r->{err}, qr/reached decode-greeting:none/, 'hook is reached at the greeting decoder');
like($r->{err}, qr/bad greeting/, 'and decoding follows it');

for my $action (qw(open socket exec fork ptrace mprotect mmap-exec
		   rlimit-nofile write-stdout kill-group)) {
	$r = with_hook($action);
	ok(WIFSIGNALED($r->{status}) && WTERMSIG($r->{status}) == $SIGSYS,
	   "$action before decoding: killed by SIGSYS")
		or diag describe_status($r->{status}) . ": $r->{err}";
	like($r->{err}, qr/reached decode-greeting:$action/, "$action: hook ran");
	unlike($r->{err}, qr/survived|bad greeting/, "$action: nothing after it ran");
}

# kill() is allowed only at the client itself.
$r = with_hook('kill-self-0');
like($r->{err}, qr/survived \(call succeeded\)/, 'kill(own pid, 0) is allowed');
is(describe_status($r->{status}), 'exit 127', 'and the call goes on to refuse the greeting');

my $flag = "$env->{dir}/target-got-usr1";
my $target = fork // die;
if (!$target) {
	$SIG{USR1} = sub { open my $f, '>', $flag; close $f };
	sleep 1 for 1 .. 30;
	POSIX::_exit(0);
}
sleep 1;
$r = with_hook('kill-other', PFI_TEST_HOOK_PID => $target);
ok(WIFSIGNALED($r->{status}) && WTERMSIG($r->{status}) == $SIGSYS,
   'kill(another pid) is killed by SIGSYS') or diag describe_status($r->{status});
sleep 0.3;
ok(!-e $flag, 'and the other process got no signal');
kill 'KILL', $target;
waitpid $target, 0;

# The installed client has no hook: no code, no strings, no effect.
sub slurp_bin { open my $f, '<:raw', $_[0] or die "$_[0]: $!"; local $/; <$f> }
ok(index(slurp_bin($hooks), 'pfi-test-hook') >= 0, 'control: the test build has the hook');
ok(index(slurp_bin($client), 'pfi-test-hook') < 0 &&
   index(slurp_bin($client), 'PFI_TEST_HOOK') < 0,
   'the installed client contains no test hook');
$r = run_call([$client, @cmd], dir => $env->{dir},
	      env => { PFI_TEST_HOOK => 'decode-greeting:open' });
is(describe_status($r->{status}), 'exit 127', 'installed client ignores PFI_TEST_HOOK');
unlike($r->{err}, qr/pfi-test-hook/, 'and prints nothing of it');

$r = run_call([$client, '--version']);
like($r->{out}, qr/\(sandbox on\)/, '--version says the sandbox is on');

stop_fake($fake);
done_testing();
