# --list names the server listening on this run directory's socket file,
# not one that listens on a file of the same name elsewhere: the same
# script served from two run directories, a server gone from one of
# them, the same -g name used by two users (as root), and what --list
# says when the kernel will not tell which socket is bound where.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Config;
use File::Copy qw(copy);
use File::Path qw(make_path);
use Test::More;
use Time::HiRes qw(sleep);

my $env = new_env();
my $client = client_path();
my $dir = $env->{dir};
my $body = <<'EOS';
use Proc::Prefork::Interp;
prefork_initialisation_complete();
print "server=", getppid(), "\n";
EOS
my $x = write_script($env, 'x.pl', $body);

sub server_in { my ($r) = @_; return ($r->{out} =~ /^server=(\d+)$/m)[0] // 'none' }

# --list's rows: { pid or '-' => the row }.
sub rows_of {
	my ($out) = @_;
	return map { (split ' ', $_)[0] => $_ } grep { !/^#|^PID/ } split /\n/, $out // '';
}

my %run = map { $_ => "$dir/run$_" } qw(A B);
mkdir $run{$_}, 0700 or die "mkdir $run{$_}: $!" for qw(A B);
my %server;
for my $d (qw(A B)) {
	my $r = run_call([$client, '-U', "--run-dir=$run{$d}", 'perl', $x], dir => $dir);
	is($r->{status}, 0, "a call in run directory $d") or diag $r->{err};
	$server{$d} = server_in($r);
}
isnt($server{A}, $server{B}, 'each run directory has a server of its own');

for my $d (qw(A B)) {
	my $other = $d eq 'A' ? 'B' : 'A';
	my $l = run_call([$client, "--run-dir=$run{$d}", '--list'], dir => $dir);
	is($l->{status}, 0, "--list in $d succeeds") or diag $l->{err};
	my %rows = rows_of($l->{out});
	is_deeply([keys %rows], [$server{$d}], "--list in $d shows its own server, $server{$d}, only")
		or diag $l->{out};
	ok(!exists $rows{$server{$other}}, "--list in $d does not show ${other}'s server")
		or diag $l->{out};
}

# A's server dies (its socket file stays): --list in A must say nobody
# listens, not name B's server, which listens on a file of that name.
kill 'KILL', $server{A}, descendants($server{A});
ok(wait_for(sub { !kill 0, $server{A} }, 10), "A's server is gone");
ok(scalar(grep { /^s/ } do { opendir my $h, run_subdir($run{A}, $>) or die; readdir $h }),
   "A's socket file is still there");
{
	my $l = run_call([$client, "--run-dir=$run{A}", '--list'], dir => $dir);
	my %rows = rows_of($l->{out});
	ok(!exists $rows{$server{B}}, "--list in A: B's server is not A's") or diag $l->{out};
	like($rows{'-'} // '', qr/\(no server listening\)$/, '--list in A: no server listening')
		or diag $l->{out};
}

# The kernel will not say which socket is bound where (sock_diag refused,
# here by a seccomp filter on netlink sockets): no server is named, and
# the list says why, rather than guess from names.
SKIP: {
	skip "the seccomp filter here is written for x86_64 (this is $Config{archname})", 4
		unless $Config{archname} =~ /^x86_64-linux/;
	# ld arch; jeq x86_64 or allow; ld nr; jeq socket or allow;
	# ld args[0] (low half); jeq AF_NETLINK or allow; EPERM; allow.
	my @insn = ([0x20, 0, 0, 4], [0x15, 0, 5, 0xc000003e],
		    [0x20, 0, 0, 0], [0x15, 0, 3, 41],
		    [0x20, 0, 0, 16], [0x15, 0, 1, 16],
		    [0x06, 0, 0, 0x00050000 | 1], [0x06, 0, 0, 0x7fff0000]);
	my $filter = <<'EOS';
my $insns = pack 'H*', shift;     # (an argument cannot hold NULs)
my $prog = pack 'S x![P] P', length($insns) / 8, $insns;
syscall(157, 38, 1, 0, 0, 0) == 0 or die "no_new_privs: $!\n";   # prctl
syscall(157, 22, 2, $prog, 0, 0) == 0 or die "seccomp: $!\n";
exec @ARGV or die "exec: $!\n";
EOS
	my $prog = unpack 'H*', join '', map { pack 'S C C L', @$_ } @insn;
	my $l = run_call(['perl', '-e', $filter, $prog, $client, "--run-dir=$run{B}", '--list'],
			 dir => $dir);
	is($l->{status}, 0, '--list without sock_diag still succeeds') or diag $l->{err};
	like($l->{out}, qr/^# servers not known: .*sock_diag.*Operation not permitted$/m,
	     '--list without sock_diag says why it names no server') or diag $l->{out};
	my %rows = rows_of($l->{out});
	ok(!exists $rows{$server{B}}, '--list without sock_diag names no server, not even by name')
		or diag $l->{out};
	like($rows{'-'} // '', qr/\(server not known\)$/, '--list without sock_diag: "server not known"')
		or diag $l->{out};
}

for my $d (qw(A B)) {
	my $k = run_call([$client, "--run-dir=$run{$d}", '--kill-all'], dir => $dir);
	is($k->{status}, 0, "--kill-all in $d") or diag $k->{err};
}
ok(wait_processes_gone($x, 10), 'the servers quit');

# One -g name, two users, each with a server in a run directory of its
# own: each user's --list shows that user's server. By name alone one of
# the two saw the other's socket and said nobody listened.
SKIP: {
	skip 'needs root to act as a second uid (uid ' . OTHER_UID . "); running as uid $>", 6
		if $> != 0;
	my ($pub, $why) = nobody_dir(safe => 1);
	skip "no directory for a second uid: $why", 6 unless $pub;
	make_path("$pub/lib");
	system('cp', '-R', perl_lib() . '/Proc', "$pub/lib/") == 0
		or die "copying the module: cp exited with status $?\n";
	my $s = "$pub/g.pl";
	copy($x, $s) or die "copy: $!";
	system('chmod', '-R', 'a+rX', $pub) == 0 or die;
	chmod 0755, $s;
	my $mine = "$pub/root-run";
	my $theirs = "$pub/other-run";
	mkdir $mine, 0700 or die;
	mkdir $theirs, 0700 or die;
	chown OTHER_UID, OTHER_UID, $theirs;
	my %e = (PERL5LIB => "$pub/lib", PREFORK_INTERP_FALLBACK => 'refuse');
	my @g = ('-U', '-g', 'shared-name', 'perl', $s);

	my $r = run_call([$client, "--run-dir=$mine", @g], dir => $pub, env => \%e);
	is($r->{status}, 0, '-g: a call as root') or diag $r->{err};
	my $root_server = server_in($r);
	$r = run_call(client_as_other($client, "--run-dir=$theirs", @g), dir => $pub, env => \%e);
	is($r->{status}, 0, '-g: a call as uid ' . OTHER_UID) or diag $r->{err};
	my $other_server = server_in($r);

	my $l = run_call([$client, "--run-dir=$mine", '--list'], dir => $pub);
	my %rows = rows_of($l->{out});
	is_deeply([keys %rows], [$root_server], "-g: root's --list shows root's server, $root_server")
		or diag $l->{out};
	$l = run_call(client_as_other($client, "--run-dir=$theirs", '--list'), dir => $pub);
	%rows = rows_of($l->{out});
	is_deeply([keys %rows], [$other_server],
		  '-g: uid ' . OTHER_UID . "'s --list shows its server, $other_server")
		or diag $l->{out};

	run_call([$client, "--run-dir=$mine", '--kill-all'], dir => $pub);
	run_call(client_as_other($client, "--run-dir=$theirs", '--kill-all'), dir => $pub);
	ok(wait_processes_gone($s, 10), '-g: the servers quit');
	ok(wait_for(sub { !kill 0, $root_server and !kill 0, $other_server }, 10),
	   '-g: both server processes are gone');
}

done_testing();
