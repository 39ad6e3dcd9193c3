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
use Fcntl qw(F_GETFD F_SETFD FD_CLOEXEC);
use Socket qw(AF_UNIX SOCK_STREAM SOCK_DGRAM PF_UNSPEC MSG_DONTWAIT
	      pack_sockaddr_un);
use IO::Handle;
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

sub killed_by_sigsys {
	my ($r, $what) = @_;
	ok(WIFSIGNALED($r->{status}) && WTERMSIG($r->{status}) == $SIGSYS,
	   "$what: killed by SIGSYS")
		or diag describe_status($r->{status}) . ": $r->{err}";
	unlike($r->{err}, qr/survived|bad greeting/, "$what: nothing after it ran");
}

sub survives {
	my ($r, $what) = @_;
	like($r->{err}, qr/survived \(call succeeded\)/, "$what: allowed");
	is(describe_status($r->{status}), 'exit 127', "$what: the call goes on to refuse the greeting");
}

# Runs the hook client with $action, stdin/stdout replaced by the
# handles given (if any), and `fd` left open across exec as
# $PFI_TEST_HOOK_FD (a caller's stray fd, as any program may inherit).
sub with_fds {
	my ($action, %o) = @_;
	my $err = "$env->{dir}/hook-$action.err";
	my $pid = fork // die "fork: $!";
	if (!$pid) {
		open STDIN, '<&', $o{stdin} or POSIX::_exit(120) if $o{stdin};
		open STDIN, '<', '/dev/null' unless $o{stdin};
		open STDOUT, '>&', $o{stdout} or POSIX::_exit(120) if $o{stdout};
		open STDOUT, '>', '/dev/null' unless $o{stdout};
		open STDERR, '>', $err or POSIX::_exit(120);
		chdir $o{cwd} or POSIX::_exit(120) if $o{cwd};
		if ($o{fd}) {
			my $fl = fcntl($o{fd}, F_GETFD, 0) or POSIX::_exit(120);
			fcntl($o{fd}, F_SETFD, $fl & ~FD_CLOEXEC) or POSIX::_exit(120);
			$ENV{PFI_TEST_HOOK_FD} = fileno $o{fd};
		}
		$ENV{PFI_TEST_HOOK} = "decode-greeting:$action";
		$ENV{PFI_TEST_HOOK_PATH} = $o{path} if $o{path};
		exec @{ $o{wrap} // [] }, $hooks, @cmd or POSIX::_exit(121);
	}
	waitpid $pid, 0;
	my $st = $?;
	return { status => $st, err => do { local $/; open my $f, '<', $err; <$f> // '' } };
}

# What is waiting to be read on $sock without blocking: '' if nothing.
sub pending {
	my ($sock) = @_;
	my $buf = '';
	recv($sock, $buf, 4096, MSG_DONTWAIT);
	return $buf // '';
}

# Sockets: only the call socket.  stdout may be a socket (a caller under
# inetd or systemd socket activation); sending there would reach
# whoever holds the other end.
for my $action (qw(send-stdout sendmsg-stdout)) {
	socketpair(my $near, my $far, AF_UNIX, SOCK_STREAM, PF_UNSPEC) or die $!;
	$r = with_fds($action, stdout => $near);
	close $near;
	killed_by_sigsys($r, "$action (stdout is a stream socket)");
	is(pending($far), '', "$action: the peer on stdout received nothing");
}

# An inherited, unconnected datagram socket reaches any AF_UNIX path
# the user may write to.
{
	my $path = "$env->{dir}/dgram-target";
	socket(my $target, AF_UNIX, SOCK_DGRAM, 0) or die $!;
	bind($target, pack_sockaddr_un($path)) or die "bind: $!";
	socket(my $stray, AF_UNIX, SOCK_DGRAM, 0) or die $!;
	$r = with_fds('sendto-path', fd => $stray, path => $path);
	killed_by_sigsys($r, 'sendto(inherited datagram socket, any path)');
	is(pending($target), '', 'sendto-path: the datagram socket at that path received nothing');
	# Control: the same stray socket does reach it without the filter.
	send($stray, 'x', 0, pack_sockaddr_un($path)) or die "send: $!";
	is(pending($target), 'x', 'control: that socket can reach that path');
}

# An inherited connected socket must not carry the caller's fds onwards.
{
	socketpair(my $near, my $far, AF_UNIX, SOCK_STREAM, PF_UNSPEC) or die $!;
	$r = with_fds('sendmsg-fd', fd => $near);
	close $near;
	killed_by_sigsys($r, 'sendmsg(inherited socket, SCM_RIGHTS of fd 0)');
	is(pending($far), '', 'sendmsg-fd: the inherited socket\'s peer received nothing');
}

# On the call socket: only read, send(MSG_NOSIGNAL) and sendmsg(MSG_NOSIGNAL).
for my $action (qw(send-sock-oob recvmsg-sock recvfrom-sock)) {
	killed_by_sigsys(with_hook($action), "$action (on the call socket)");
}
survives(with_hook('send-sock'), 'send(call socket, MSG_NOSIGNAL)');
survives(with_hook('sendmsg-sock'), 'sendmsg(call socket, SCM_RIGHTS of fd 0, MSG_NOSIGNAL)');

# read: only the call socket, never the caller's stdin or a stray fd
# (whose data would then be lost to whoever reads it next).
{
	pipe(my $rd, my $wr) or die $!;
	syswrite $wr, 'stdin data';
	$r = with_fds('read-stdin', stdin => $rd);
	killed_by_sigsys($r, 'read(stdin)');
	pipe(my $rd2, my $wr2) or die $!;
	syswrite $wr2, 'fd data';
	$r = with_fds('read-fd', fd => $rd2);
	killed_by_sigsys($r, 'read(an inherited pipe)');
	close $wr; close $wr2;
	is(scalar(<$rd>), 'stdin data', 'read-stdin: the data is still there for its reader');
	is(scalar(<$rd2>), 'fd data', 'read-fd: the data is still there for its reader');
}

# mmap: private anonymous memory only.
{
	my $file = "$env->{dir}/mapped";
	open my $fh, '+>', $file or die $!;
	print $fh "\0" x 4096;
	$fh->flush;
	$r = with_fds('mmap-shared-fd', fd => $fh);
	killed_by_sigsys($r, 'mmap(MAP_SHARED, an inherited writable fd)');
	open my $ro, '<', $file or die $!;
	$r = with_fds('mmap-private-fd', fd => $ro);
	killed_by_sigsys($r, 'mmap(MAP_PRIVATE, an inherited readable fd)');
}
killed_by_sigsys(with_hook('mmap-anon-shared'), 'mmap(MAP_SHARED|MAP_ANONYMOUS)');
killed_by_sigsys(with_hook('mmap-fixed'), 'mmap(MAP_FIXED_NOREPLACE)');
survives(with_hook('mmap-anon'), 'mmap(PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS)');

# No core dump: a file the kernel would write, of memory a compromised
# client fills, in its caller's working directory (core_pattern "core"),
# or over a core file already there.  The caller's soft limit is 0 and
# its hard one unlimited, as in a usual login shell.
{
	my $cwd = "$env->{dir}/caller-cwd";
	mkdir $cwd or die "mkdir $cwd: $!";
	$r = with_fds('core-dump', cwd => $cwd,
		      wrap => ['sh', '-c', 'ulimit -H -c unlimited && ulimit -S -c 0 && exec "$@"', 'sh']);
	killed_by_sigsys($r, 'raising the core limit to dump core');
	SKIP: {
		my $pattern = slurp_file('/proc/sys/kernel/core_pattern') // '';
		chomp $pattern;
		skip "core_pattern '$pattern' does not write into the working directory", 1
			if $pattern =~ m{^\||/};
		opendir my $d, $cwd or die "$cwd: $!";
		my @left = grep { !/^\.\.?$/ } readdir $d;
		is("@left", '', 'core-dump: no file was written in the caller\'s working directory');
	}
}

# Another ABI of the same machine: its system call numbers mean other
# calls.  i386's mkdir (int $0x80) has the number of x86_64's getpid,
# which the policy allows: only the filter's architecture check kills
# it.  x32 calls (bit 30 set) die too.
SKIP: {
	skip 'foreign-ABI calls are tried on x86_64 only', 5
		unless $Config{archname} =~ /^x86_64/;
	killed_by_sigsys(with_hook('getpid-x32'), 'getpid through the x32 ABI');
	my $made = "$env->{dir}/made-by-i386";
	$r = with_fds('mkdir-i386', path => $made);
	skip 'this kernel runs no i386 calls (int $0x80 faults: no IA32 emulation)', 3
		if WIFSIGNALED($r->{status}) && WTERMSIG($r->{status}) == $signo{SEGV};
	killed_by_sigsys($r, 'mkdir through the i386 ABI (number 39, x86_64 getpid)');
	ok(!-e $made, 'mkdir-i386: no directory was made');
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
