# A malicious or broken server (SECURITY.md, "Bounded decoding" and
# "Sandbox"): one that passes the ownership and SO_PEERCRED checks (it
# runs as the user) but then sends a wrong magic, a huge xdata length, a
# truncated greeting, malformed xdata, an impossible status (or word of
# the signals extension), extra
# bytes, fds of its own, or nothing at all.  The client must end with
# one clear line (exit 127) or, for harmless extras, the reported
# status; it must keep no fd the server sends; and a server that never
# answers must not keep it waiting once its caller has gone away.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use IO::FDPass ();
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep time);

need_root();

my $env = new_env();
my $client = client_path();
my $run = $env->{run};
my $script = write_script($env, 'genuine.pl', <<'EOS');
use Proc::Prefork::Interp;
prefork_initialisation_complete();
print "genuine\n";
EOS
my @cmd = ($client, '-U', '-g', 'sec', 'perl', $script, 'arg');
my $sock = "$run/ssec";

# Reads a whole well-formed request (step-2 byte, 0 unless $uses says
# otherwise, three fds, length, body) as a server would; returns the
# number of fds and the body.
sub take_request {
	my ($c, $uses) = @_;
	read_n($c, 1, 5) eq chr($uses // 0) or return;
	my @fds;
	for (0 .. 2) {
		my $fd = IO::FDPass::recv(fileno $c);
		return if $fd < 0;
		push @fds, $fd;
	}
	my $len = unpack 'N', read_n($c, 4, 5);
	my $body = read_n($c, $len, 5);
	POSIX::close($_) for @fds;
	return (scalar @fds, $body);
}

my $GREET = "PFI\n\0\0\0\0";
my $LAST_ERR = '';

sub against {
	my ($label, $serve, $want_status, $want_err, $want_out) = @_;
	my $fake = fake_server($sock, $serve);
	my $t0 = time;
	my $r = run_call(\@cmd, dir => $env->{dir});
	my $secs = time - $t0;
	$LAST_ERR = $r->{err};
	if (defined $want_err) {
		is($r->{status} >> 8, 127, "$label: client fails (exit 127)")
			or diag "status $r->{status} err $r->{err}";
		one_prefork_line($r, $want_err, $label);
	} else {
		is($r->{status}, $want_status, "$label: client ends with the reported status")
			or diag "err: $r->{err}";
		is($r->{err}, '', "$label: no complaint");
	}
	is($r->{out}, $want_out // '', "$label: stdout as expected");
	ok($secs < 10, "$label: ended promptly");
	my $report = fake_wait($fake, 5);
	unlike($report, qr/LEAK/, "$label: no fd of the server's stayed in the client")
		or diag $report;
	return $report;
}

# Bad greetings: the client must send nothing back.
my $greets_and_notes = sub {
	my ($bytes) = @_;
	return sub {
		my ($c, $rep) = @_;
		syswrite $c, $bytes;
		shutdown $c, 1 if $bytes !~ /\A\Q$GREET\E/;
		my $got = read_n($c, 1, 2);
		print $rep "client sent data\n" if length $got;
	};
};
my $limit;
for my $case (
	['wrong magic', "XYZ\n\0\0\0\0", qr/server sent a bad greeting \(not a prefork-interp server\?\)/],
	['wrong magic, chiark-like', "PFJ\n\0\0\0\0", qr/bad greeting/],
	['huge xdata length', "PFI\n\xff\xff\xff\xff", qr/announces too much extension data \(limit (\d+) bytes\)/],
	['xdata length just over the limit', sub { "PFI\n" . pack('N', $limit + 1) }, qr/too much extension data/],
	['truncated greeting', "PF", qr/hung up in the middle of its greeting \(2 of 8 bytes\)/],
	['truncated xdata', "PFI\n\0\0\0\x10full-", qr/hung up in the middle of its greeting \(5 of 16 bytes\)/],
	['malformed xdata', "PFI\n\0\0\0\x06a\x01b\xffcd", qr/greeting has malformed extension data/],
    ) {
	my ($label, $bytes, $want) = @$case;
	$bytes = $bytes->() if ref $bytes;
	my $report = against($label, $greets_and_notes->($bytes), undef, $want);
	is($report, '', "$label: the client sent nothing after the bad greeting");
	($limit) = $LAST_ERR =~ /limit (\d+) bytes/ if $label eq 'huge xdata length';
}

# A server that hangs up at once is taken for a stale one: the client
# replaces it with a genuine server under the lock.
against('hang-up before greeting', sub { }, 0, undef, "genuine\n");
unlink $sock;
ok(wait_processes_gone($script, 10), 'the genuine server quit once its socket went');

# Impossible statuses, after a correct exchange.
for my $case (['status > INT_MAX', 0x80000000], ['status 0xffffffff', 0xffffffff],
	      ['"stopped" status', 0x137f], ['"continued" status', 0xffff],
	      ['exit status with stray high bits', 0x10100], ['signal 0x7e', 0x7e]) {
	my ($label, $st) = @$case;
	against($label, sub {
		my ($c, $rep) = @_;
		syswrite $c, $GREET;
		take_request($c) or print $rep "no request\n";
		syswrite $c, pack('N', $st);
	}, undef, qr/server reported an impossible wait status/);
}

# A server that offers `signals` (docs/protocol.md): the client uses
# it (step-2 byte 0x02) and accepts only stop words for stop signals,
# "continued" and an ending as the words that follow.
my $SIGNALS = "PFI\n" . pack('N', 7) . 'signals';
for my $case (['"stopped" by SIGTERM', 0x0f7f], ['"stopped" with stray bits', 0x1137f],
	      ['"stopped" by signal 0', 0x007f], ['"continued" with stray bits', 0x1ffff],
	      ['died of SIGTSTP', 0x14]) {
	my ($label, $word) = @$case;
	my $report = against("signals: $label", sub {
		my ($c, $rep) = @_;
		syswrite $c, $SIGNALS;
		take_request($c, 0x02) or print $rep "no request with byte 0x02\n";
		syswrite $c, pack('N', $word);
	}, undef, qr/server reported an impossible wait status/);
	unlike($report, qr/no request/, "signals: $label: the client used signals (0x02)");
}
my $report = against('signals: "continued", then exit 3', sub {
	my ($c, $rep) = @_;
	syswrite $c, $SIGNALS;
	take_request($c, 0x02) or print $rep "no request with byte 0x02\n";
	syswrite $c, pack('N', 0xffff) x 3 . pack('N', 3 << 8);
}, 3 << 8, undef);
unlike($report, qr/no request/, 'signals: the client used signals (0x02)');
against('signals: a word cut short', sub {
	my ($c) = @_;
	syswrite $c, $SIGNALS;
	take_request($c, 0x02);
	syswrite $c, pack('N', 0xffff) . "\0\0";
}, undef, qr/server hung up in the middle of reporting the exit status \(2 of 4 bytes\)/);

# Truncated status.
against('status cut short', sub {
	my ($c) = @_;
	syswrite $c, $GREET;
	take_request($c);
	syswrite $c, "\0\0";
}, undef, qr/server hung up in the middle of reporting the exit status \(2 of 4 bytes\)/);

# Extra bytes after a good status are ignored: the call's status stands.
against('extra bytes after the status', sub {
	my ($c) = @_;
	syswrite $c, $GREET;
	take_request($c);
	syswrite $c, pack('N', 3 << 8) . ("junk" x 4096);
}, 3 << 8, undef);

# Extra bytes inside a well-formed greeting (unknown extensions) are
# ignored too: the client falls back to plain v1.
against('unknown extensions', sub {
	my ($c) = @_;
	my $x = 'later-thing other-thing';
	syswrite $c, "PFI\n" . pack('N', length $x) . $x;
	take_request($c);
	syswrite $c, pack('N', 0);
}, 0, undef);

# fds sent back: each zero byte of the xdata length and of the status
# carries an fd (the write end of a pipe).  None may stay open in the
# client.
my $fdrep = against('fds sent back with greeting and status', sub {
	my ($c, $rep, $peer) = @_;
	pipe(my $pr, my $pw) or die;
	my $ino = (stat $pw)[1];
	syswrite $c, "PFI\n";
	IO::FDPass::send(fileno $c, fileno $pw) or print $rep "send failed\n" for 1 .. 4;
	my ($n) = take_request($c);
	print $rep "no request\n" unless $n;
	my @seen = glob "/proc/$peer/fd/*";
	for my $fd (@seen) {
		my $t = readlink $fd // next;
		print $rep "LEAK: $fd -> $t\n" if $t eq "pipe:[$ino]";
	}
	print $rep "checked " . scalar(@seen) . " fds\n";
	IO::FDPass::send(fileno $c, fileno $pw) for 1 .. 4;   # status 0
}, 0, undef);
like($fdrep, qr/^checked [3-9]\d* fds$/m, "fds sent back: the client's fds were inspected while it waited");

# Slow-loris servers: they accept and then never finish.  While its
# caller is there the client waits (a call may take long); once the
# caller has gone (its end of stdout closed), the client must give up
# on the server.  Before a whole greeting head nothing of the call has
# reached the server: the script then runs directly, as its standalone
# run would (meeting the closed output itself: death by SIGPIPE here);
# after it (the sandbox entered) the client ends with exit 127.
for my $case (['never greets', '', 'direct'],
	      ['stops inside the greeting', 'PFI', 'direct'],
	      ['stops inside the xdata', "PFI\n\0\0\0\x10half", 'gives up']) {
	my ($label, $bytes, $then) = @$case;
	my $fake = fake_server($sock, sub {
		my ($c) = @_;
		syswrite $c, $bytes if length $bytes;
		sleep 60;
	});
	my $err = "$env->{dir}/loris.err";
	pipe(my $out_r, my $out_w) or die;
	my $pid = fork // die;
	if (!$pid) {
		close $out_r;
		open STDIN, '<', '/dev/null';
		open STDOUT, '>&', $out_w or POSIX::_exit(120);
		open STDERR, '>', $err or POSIX::_exit(120);
		exec @cmd or POSIX::_exit(121);
	}
	close $out_w;
	sleep 1;
	is(waitpid($pid, WNOHANG), 0, "slow loris ($label): the client waits while its caller is there");
	close $out_r;              # the caller goes away
	my $t0 = time;
	my $ended = wait_for(sub { waitpid($pid, WNOHANG) == $pid }, 5);
	ok($ended, "slow loris ($label): the client ends once its caller has gone")
		or do { kill 'KILL', $pid; waitpid $pid, 0 };
	my $status = $?;
	my $silent = qr/the server did not answer within 2 s after the caller's output was closed/;
	if ($then eq 'direct') {
		is(describe_status($status), 'signal 13',
		   "slow loris ($label): the script ran directly and met the closed output") if $ended;
		like(slurp_file($err), qr/^prefork-interp: running '\Q$script\E' without a server \(not accelerated\): $silent; [^\n]*\n\z/,
		     "slow loris ($label): one clear line");
	} else {
		is(describe_status($status), 'exit 127', "slow loris ($label): exit 127") if $ended;
		like(slurp_file($err), qr/^prefork-interp: $silent\n\z/,
		     "slow loris ($label): one clear line");
	}
	unlink $err;
	fake_wait($fake, 0);
}

ok(wait_processes_gone($env->{dir}, 10), 'no process left behind');
done_testing;
