# Client identity (SECURITY.md, "Client identity"): a process of another
# uid that reaches the user's server socket is refused by the server
# (SO_PEERCRED): it gets no greeting, its request runs nothing, the
# refusal is logged, and the server keeps serving the user without
# leaking processes or fds.  So is one of the same uid with another gid
# (SO_PEERCRED) or other supplementary groups (SO_PEERGROUPS): a call
# never runs with other groups than its caller's (docs/protocol.md,
# "Credentials").  One of the same uid, gid and groups with less
# privilege (capabilities, no-new-privs, a seccomp filter) is declined.
# PFI_LANG=perl or python (tests/meson.build runs both).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;
use Time::HiRes qw(sleep);

need_root();

my $env = new_env();
my $client = client_path();
my $run = $env->{run};
my $log = "$env->{dir}/log";
my ($script, $marker) = victim($env, 'logger => \\&logger, prefork_spares => 1');
my @cmd = ($client, '-U', '-g', 'sec', interpreter(), $script);
my $sock = "$run/ssec";

my $r = run_call([@cmd, 'user'], dir => $env->{dir});
is($r->{status}, 0, 'the user\'s server runs') or diag $r->{err};
my $server = server_pid_of($script);
ok($server, "server pid $server");
# Let the spare settle, then take a baseline.
sleep 0.5;
my $kids0 = scalar descendants($server);
my $fds0 = fd_count($server);
unlink $log;

# The attacker: connects, reads what it is sent, then sends a complete
# request with its own stdio, as a client would.  Prints how many bytes
# it received.
my $attacker = <<'EOP';
use strict; use IO::FDPass; use Socket;
$SIG{PIPE} = 'IGNORE';
socket(my $s, AF_UNIX, SOCK_STREAM, 0) or die "socket: $!";
connect($s, pack_sockaddr_un($ARGV[0])) or do { print "connect: $!\n"; exit 3 };
my $req = join '', map { "$_\0" } ('A=1', '', 'perl', $ARGV[1], 'attacker');
syswrite $s, "\0";
IO::FDPass::send(fileno $s, $_) for 0, 1, 2;
syswrite $s, pack('N', length $req) . $req;
my $rin = ''; vec($rin, fileno $s, 1) = 1;
my $got = '';
if (select(my $rout = $rin, undef, undef, 5) > 0) { sysread $s, $got, 4096 }
print "pid $$ received " . length($got) . " bytes\n";
exit 0;
EOP

# Without DAC override the 0700 run directory already keeps it out.
# (PERL5LIB may name a directory this uid cannot read, which perl treats
# as fatal; the attacker needs only system modules.)
$r = run_call(client_as_other('perl', '-e', $attacker, $sock, $script), dir => $env->{dir},
	      unset => ['PERL5LIB']);
like($r->{out}, qr/^connect: Permission denied/, 'another uid cannot even reach the socket through the 0700 run directory')
	or diag "status " . describe_status($r->{status}) . ", stderr: $r->{err}";

# With it (as if the directory's permissions had failed), SO_PEERCRED
# is the server's own line of defence.
my @reach = ('setpriv', '--reuid=' . OTHER_UID, '--regid=' . OTHER_UID, '--clear-groups',
	     '--inh-caps=+dac_override', '--ambient-caps=+dac_override');
for my $i (1 .. 10) {
	$r = run_call([@reach, 'perl', '-e', $attacker, $sock, $script], dir => $env->{dir});
	my ($pid, $n) = $r->{out} =~ /^pid (\d+) received (\d+) bytes$/m;
	if ($i == 1 || !defined $n || $n) {
		is($n, 0, "attack $i: the other uid's connection received nothing (no greeting)")
			or diag "out: $r->{out} err: $r->{err}";
		ok(wait_for(sub { slurp_file($log) =~ /refused a call from pid \Q$pid\E uid ${\OTHER_UID} \(this server runs as uid 0\)/ }, 5),
		   "attack $i: the server logged the refusal naming pid and uid")
			or diag "log: " . slurp_file($log);
	}
}
my @refusals = slurp_file($log) =~ /refused a call from pid \d+ uid ${\OTHER_UID}/g;
is(scalar(@refusals), 10, 'every one of 10 attacks was logged');
unlike(slurp_file($marker), qr/attacker/, 'the attacker\'s request ran nothing');

# The same uid (root, so it reaches the socket) with another gid, or
# with other supplementary groups: refused too, naming how it differs.
my $own_gid = (split ' ', $))[0];
my @same_uid = ('setpriv', '--reuid=0');

# Three attacks run under @$wrap: each must get $bytes bytes back and be
# logged as refused with $want.
sub attacked_thrice {
	my ($what, $wrap, $want, $bytes, $got_label, $log_label) = @_;
	for my $i (1 .. 3) {
		$r = run_call([@$wrap, 'perl', '-e', $attacker, $sock, $script],
			      dir => $env->{dir});
		my ($pid, $n) = $r->{out} =~ /^pid (\d+) received (\d+) bytes$/m;
		is($n, $bytes, "$what, attack $i: $got_label")
			or diag "out: $r->{out} err: $r->{err}";
		my $who = $pid // 'unknown';
		ok(wait_for(sub { slurp_file($log) =~ /refused a call from pid \Q$who\E $want/ }, 5),
		   "$what, attack $i: $log_label")
			or diag "log: " . slurp_file($log);
	}
}
for my $case (['another gid', ['--regid=' . OTHER_UID, '--clear-groups'],
	       qr/uid 0 gid ${\OTHER_UID}: another gid \(this server runs as gid \Q$own_gid\E\)/],
	      ['other groups', ["--regid=$own_gid", '--groups=4242,4243'],
	       qr/uid 0 gid \Q$own_gid\E: groups 4242,4243 \(this server has [^)]*\)/]) {
	my ($what, $priv, $want) = @$case;
	attacked_thrice($what, [@same_uid, @$priv], $want, 0,
			'received nothing (no greeting)',
			'the server logged the refusal saying how the caller differs');
}
unlike(slurp_file($marker), qr/attacker/, 'no same-uid stranger\'s request ran');

# The same uid, gid and groups, with less privilege than the server (a
# root service with a reduced bounding set, a no-new-privs or seccomp
# sandbox): its call would run with the server's capabilities, free of
# no-new-privs or of its filter.  The name of the server is no secret
# (the run directory lists it; -g takes it), so the server refuses it.
my $with_state = "$FindBin::Bin/with-state.pl";
for my $case (['no capabilities', ['setpriv', '--bounding-set=-all', '--inh-caps=-all'],
	       qr/uid 0 gid \Q$own_gid\E: lacks capabilities this server has \(bounding [0-9a-f]{16}, this server has [0-9a-f]{16}\)/],
	      ['one capability fewer', ['setpriv', '--bounding-set=-net_raw'],
	       qr/uid 0 gid \Q$own_gid\E: lacks capabilities this server has \(bounding [0-9a-f]{16}, this server has [0-9a-f]{16}\)/],
	      ['no-new-privs', ['setpriv', '--no-new-privs'],
	       qr/uid 0 gid \Q$own_gid\E: runs with no-new-privs \(this server does not\)/],
	      ['a seccomp filter', ['perl', $with_state, '--seccomp', '--'],
	       qr/uid 0 gid \Q$own_gid\E: runs under a seccomp filter/]) {
	my ($what, $wrap, $want) = @$case;
	attacked_thrice($what, $wrap, $want, 8,
			'received only PFI_DECLINED (8 bytes), no greeting',
			'the server logged the refusal saying what it lacks');
}
unlike(slurp_file($marker), qr/attacker/, 'no less privileged caller\'s request ran');

# Our client, under the server's -g name with one capability fewer: the
# server declines, so the script runs directly (one line), and the
# server is not taken for a stale one and replaced.
$r = run_call(['setpriv', '--bounding-set=-net_raw', @cmd, 'less'], dir => $env->{dir});
is($r->{status}, 0, '-g caller with less privilege: the script ran') or diag $r->{err};
is($r->{out}, "ran less\n", '-g caller with less privilege: its output');
one_prefork_line($r, qr/without a server \(not accelerated\)/,
		 '-g caller with less privilege');
is(server_pid_of($script), $server, '-g caller with less privilege: the server was kept');

# The user is still served, by the same server, with nothing leaked.
$r = run_call([@cmd, 'after'], dir => $env->{dir});
is($r->{status}, 0, 'the user is still served') or diag $r->{err};
is($r->{out}, "ran after\n", 'with the right output');
is(server_pid_of($script), $server, 'by the same server');
ok(wait_for(sub { descendants($server) == $kids0 }, 5), "no process leaked (server has $kids0 descendants)")
	or diag 'descendants: ' . join ' ', descendants($server);
ok(wait_for(sub { fd_count($server) == $fds0 }, 5), "no fd leaked (server holds $fds0)")
	or diag 'fds now ' . fd_count($server);

ok(kill_servers($env), 'no process left behind');
done_testing;
