# Proc::Prefork::Interp::LogFile: the fallback for the server's messages
# when no syslog daemon listens.
use strict;
use warnings;
use Test::More;
use File::Path qw(remove_tree);
use File::Temp qw(tempdir);
use POSIX ();
use Socket qw(AF_UNIX SOCK_DGRAM SOCK_STREAM SOMAXCONN pack_sockaddr_un);
use Proc::Prefork::Interp::LogFile;

my $dir = tempdir(CLEANUP => 1);
my $L = 'Proc::Prefork::Interp::LogFile';
sub slurp { my ($f) = @_; open my $fh, '<', $f or return undef; local $/; <$fh> }

# Reachability: nothing there, a stale socket file, a listening one.
ok(!$L->can('syslog_reachable')->("$dir/nothing"), 'no socket: syslog not reachable');
{
	socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die;
	bind($s, pack_sockaddr_un("$dir/stale")) or die;
	close $s;
	ok(!$L->can('syslog_reachable')->("$dir/stale"), 'a socket nobody holds: not reachable');
	socket(my $d, AF_UNIX, SOCK_DGRAM, 0) or die;
	bind($d, pack_sockaddr_un("$dir/dgram")) or die;
	ok($L->can('syslog_reachable')->("$dir/dgram"), 'a bound datagram socket: reachable');
	socket(my $t, AF_UNIX, SOCK_STREAM, 0) or die;
	bind($t, pack_sockaddr_un("$dir/stream")) or die;
	listen($t, SOMAXCONN) or die;
	ok($L->can('syslog_reachable')->("$dir/stream"), 'a listening stream socket: reachable');
	is(($L->can('dir_of_socket')->($t))[0], $dir, 'the directory of a bound socket');
}

# Bound through an fd of the directory, as our client binds
# (/proc/self/fd/N/NAME): the directory is the parent's fd N (the
# client, waiting for the setup), opened as it is (not by its path),
# and trusted only if the socket is there.  Returns what the child
# found: the device and inode of the directory it would write to, and
# whether the log opened there.
sub bound_via_parent_fd {
	my ($parent_dir, $child_dir) = @_;
	opendir my $pd, $parent_dir or die "$parent_dir: $!";
	my $n = fileno $pd;
	pipe my $r, my $w or die;
	my $pid = fork // die;
	if (!$pid) {
		close $r;
		# The child's fd N is $child_dir (the name it binds through).
		opendir my $cd, $child_dir or POSIX::_exit(1);
		POSIX::dup2(fileno $cd, $n) // POSIX::_exit(1);
		socket(my $s, AF_UNIX, SOCK_STREAM, 0) or POSIX::_exit(1);
		bind($s, pack_sockaddr_un("/proc/self/fd/$n/sx")) or POSIX::_exit(1);
		POSIX::close($n);
		my ($got, $held) = $L->can('dir_of_socket')->($s);
		if (defined $got) {
			my @st = stat $got;
			my $log = $L->new($got, held => $held);
			print $w "$st[0]:$st[1] ", ($log ? 'opened' : "not opened: $!");
			$log->close if $log;
		} else {
			print $w '(none)';
		}
		close $w;
		unlink "$child_dir/sx";
		POSIX::_exit(0);
	}
	close $w;
	my $got = do { local $/; <$r> };
	waitpid $pid, 0;
	return $got;
}
{
	my $sub = "$dir/via";
	mkdir $sub or die;
	mkdir "$dir/other" or die;
	my @st = stat $sub;
	is(bound_via_parent_fd($sub, $sub), "$st[0]:$st[1] opened",
	   'bound through /proc/self/fd/N: the log opens in the parent\'s fd N');
	ok(-f "$sub/messages", 'bound through /proc/self/fd/N: the file is in that directory');
	is(bound_via_parent_fd("$dir/other", $sub), '(none)',
	   'bound through /proc/self/fd/N: refused when the socket is not in the parent\'s fd N');
	remove_tree($sub, "$dir/other");
}

# Writing: one line per message, mode 0600, nothing but the file.
my $log = $L->new($dir);
ok($log, 'opened') or diag "$!";
is($log->path, "$dir/messages", 'named messages in the directory');
$log->write('err', "/srv/x.pl: first\n");
$log->write('info', "/srv/x.pl: two\nlines");
my $text = slurp("$dir/messages");
like($text, qr/\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ prefork-interp\[$$\] err: \/srv\/x\.pl: first\n/,
     'a line: time, pid, priority, message');
like($text, qr/info: \/srv\/x\.pl: two\\nlines\n\z/, 'a newline inside a message is escaped, one line each');
is((stat "$dir/messages")[2] & 07777, 0600, 'mode 0600');

# Bounded: past max_bytes it is rotated to messages.old.
my $small = $L->new("$dir", max_bytes => 200);
$small->write('info', 'x' x 150) for 1 .. 3;
ok(-s "$dir/messages.old", 'rotated to messages.old');
cmp_ok(-s "$dir/messages", '<', 400, 'the current file stays bounded');

# A symlink at the name is not followed.
my $other = tempdir(CLEANUP => 1);
symlink "$dir/target", "$other/messages" or die;
ok(!$L->new($other), 'a symlink at the name: refused');
ok(!-e "$dir/target", 'and nothing created at its target');

# close: no more writes (a log of its own: $log's file has been rotated
# away above, so nothing written through it could show there anyway).
my $closing_dir = tempdir(CLEANUP => 1);
my $closing = $L->new($closing_dir);
$closing->write('err', 'before close');
$closing->close;
$closing->write('err', 'after close');
my $closed_text = slurp("$closing_dir/messages") // '';
like($closed_text, qr/before close/, 'written before close');
unlike($closed_text, qr/after close/, 'nothing written after close');
done_testing;
