# Socket attacks (SECURITY.md, "Socket file" and "Server identity"): a
# socket planted by another uid, a socket whose listening process runs
# as another uid (SO_PEERCRED), and things that are not sockets at the
# socket's name.  The client must refuse with one clear line, and the
# attacker's server must receive nothing: no byte, so no fd, argument or
# environment string.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use POSIX qw(mkfifo);
use Test::More;

need_root();

my $env = new_env();
my $client = client_path();
my $run = $env->{run};
my ($script, $marker) = victim($env);
my @cmd = ($client, '-U', '-g', 'sec', 'perl', $script);
my $sock = "$run/ssec";

# What an attacker's server does with a connection: greet like a real
# server, then note everything it is sent.
my $listen_and_note = sub {
	my ($c, $rep, $peer_pid) = @_;
	print $rep "connected\n";
	syswrite $c, "PFI\n\0\0\0\0";
	my $got = read_n($c, 65536, 3);
	print $rep "got " . length($got) . " bytes\n" if length $got;
};

sub attacked {
	my ($label, $want, $fake, @extra) = @_;
	unlink $marker;
	my $r = run_call([$cmd[0], @extra, @cmd[1 .. $#cmd]], dir => $env->{dir},
			 env => { SECRET_FOR_SERVER => 'hunter2' }, stdin => "secret input\n");
	is($r->{status} >> 8, 127, "$label: refused (exit 127)");
	one_prefork_line($r, $want, $label);
	is($r->{out}, '', "$label: nothing on stdout");
	ok(!-e $marker, "$label: the script did not run");
	if ($fake) {
		my $report = fake_wait($fake, 0.5);
		unlike($report, qr/got \d+ bytes/, "$label: the attacker received no data")
			or diag $report;
	}
	return $r;
}

# A socket owned by another uid (its process runs as the user, so only
# the ownership check stands between it and the client).
my $fake = fake_server($sock, $listen_and_note, chown => OTHER_UID);
attacked('socket owned by another uid',
	 qr/socket '\Q$run\E\/ssec' is owned by uid ${\OTHER_UID}, not by you; refusing/, $fake);

# A socket file owned by the user, but the process behind it listens as
# another uid: only SO_PEERCRED tells.
$fake = fake_server($sock, $listen_and_note, uid => OTHER_UID);
ok(-S $sock && (lstat $sock)[4] == 0, 'the socket file itself is owned by the user');
attacked('server runs as another uid',
	 qr/the server at '\Q$run\E\/ssec' runs as uid ${\OTHER_UID}, not as you \(uid 0\); refusing to talk to it/,
	 $fake);

# Not a socket at all.
{
	open my $f, '>', $sock or die; close $f;
	attacked('a regular file at the socket name', qr/'\Q$run\E\/ssec' is not a socket; refusing/);
	is(-s $sock, 0, 'the regular file was left alone');
	unlink $sock;
	mkfifo($sock, 0600) or die "mkfifo: $!";
	attacked('a FIFO at the socket name', qr/'\Q$run\E\/ssec' is not a socket; refusing/);
	unlink $sock;
	# A symlink to a socket elsewhere that would pass every other check.
	my $elsewhere = "$env->{dir}/elsewhere";
	mkdir $elsewhere, 0700 or die;
	$fake = fake_server("$elsewhere/s", $listen_and_note);
	symlink "$elsewhere/s", $sock or die;
	attacked('a symlink to a socket at the socket name',
		 qr/'\Q$run\E\/ssec' is not a socket; refusing/, $fake);
	unlink $sock;
	rmdir $elsewhere;
}

# -f replaces a server: never a file that is not a socket of the user's.
{
	open my $f, '>', $sock or die; print $f "keep me"; close $f;
	attacked('-f, a regular file at the socket name',
		 qr/'\Q$run\E\/ssec' is not a socket; refusing to replace it/, undef, '-f');
	is(slurp_file($sock), 'keep me', '-f: the regular file was left alone');
	unlink $sock;
	mkfifo($sock, 0600) or die "mkfifo: $!";
	attacked('-f, a FIFO at the socket name',
		 qr/'\Q$run\E\/ssec' is not a socket; refusing to replace it/, undef, '-f');
	ok(-p $sock, '-f: the FIFO was left alone');
	unlink $sock;
	symlink "$env->{dir}/nowhere", $sock or die;
	attacked('-f, a symlink at the socket name',
		 qr/'\Q$run\E\/ssec' is not a socket; refusing to replace it/, undef, '-f');
	ok(-l $sock, '-f: the symlink was left alone');
	unlink $sock;
	$fake = fake_server($sock, $listen_and_note, chown => OTHER_UID);
	attacked('-f, a socket owned by another uid',
		 qr/socket '\Q$run\E\/ssec' is owned by uid ${\OTHER_UID}, not by you; refusing to replace it/,
		 $fake, '-f');
	stop_fake($fake);
	unlink $sock;
}

# With the planted things gone, the user's own server starts and works.
my $r = run_call(\@cmd, dir => $env->{dir});
is($r->{status}, 0, 'afterwards a genuine server starts') or diag $r->{err};
is($r->{out}, "ran \n", 'and serves the call');
ok(kill_servers($env), 'no process left behind');
done_testing;
