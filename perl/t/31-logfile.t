# Proc::Prefork::Interp::LogFile: the fallback for the server's messages
# when no syslog daemon listens.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
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
	is($L->can('dir_of_socket')->($t), $dir, 'the directory of a bound socket');
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

# close: no more writes.
$log->close;
$log->write('err', 'after close');
unlike(slurp("$dir/messages") // '', qr/after close/, 'nothing written after close');
done_testing;
