# Proc::Prefork::Interp::FdMessage: a stdio message must carry exactly
# one fd; anything else is refused and every fd it brought is closed.
use strict;
use warnings;
use Test::More;
use Fcntl qw(F_GETFD FD_CLOEXEC);
use Socket qw(AF_UNIX SOCK_STREAM PF_UNSPEC SOL_SOCKET SCM_RIGHTS);
use Socket::MsgHdr ();
use Proc::Prefork::Interp::FdMessage ();
use Proc::Prefork::Interp::Linux ();
use FindBin;
use lib "$FindBin::Bin/lib";
use FdTest qw(open_fds send_msg pair);

open my $passed, '<', '/dev/null' or die $!;
my $pfd = fileno $passed;

{
    my ($c, $s) = pair();
    send_msg($c, "\0", $pfd) or die "sendmsg: $!";
    my ($fd, $why) = Proc::Prefork::Interp::FdMessage::receive($s, 0);
    ok(defined $fd && !defined $why, 'one fd: received');
    ok(open(my $fh, '<&=', $fd), 'and it is a real fd');
    ok(fcntl($fh, F_GETFD, 0) & FD_CLOEXEC, 'close-on-exec until installed');
    close $fh;
}

for my $case ([2, qr/^message for fd 1 carried 2 file descriptors, not one$/],
              [0, qr/^message for fd 1 carried no file descriptor$/],
              [100, qr/^message for fd 1 had its control data truncated \(too many fds\)$/]) {
    my ($n, $want) = @$case;
    my ($c, $s) = pair();
    my $before = open_fds();
    send_msg($c, "\0", ($pfd) x $n) or die "sendmsg: $!";
    my ($fd, $why) = Proc::Prefork::Interp::FdMessage::receive($s, 1);
    ok(!defined $fd, "$n fds: refused");
    like($why // '', $want, "$n fds: says why");
    is(open_fds(), $before, "$n fds: every fd received is closed again");
}

{
    my ($c, $s) = pair();
    send_msg($c, "\0", $pfd) or die "sendmsg: $!";
    send_msg($c, "\0", $pfd, $pfd) or die "sendmsg: $!";
    my ($fd) = Proc::Prefork::Interp::FdMessage::receive($s, 0);
    ok(defined $fd, 'a good message followed by a bad one: the good one is read alone');
    POSIX::close($fd);
    my $before = open_fds();
    my ($fd2, $why) = Proc::Prefork::Interp::FdMessage::receive($s, 1);
    like($why // '', qr/carried 2 file descriptors/, 'and the bad one is refused');
    is(open_fds(), $before, 'with its fds closed');
}

{
    my ($c, $s) = pair();
    close $c;
    my ($fd, $why) = Proc::Prefork::Interp::FdMessage::receive($s, 2);
    ok(!defined $fd && !defined $why, 'EOF: the client is gone, quietly');
}

# A receiver with no free fd number: the kernel drops the fd (the
# message arrives without it), and that is said, not blamed on the
# client. In a child, whose soft limit sits at its open fds.
{
    my ($c, $s) = pair();
    send_msg($c, "\0", $pfd) or die "sendmsg: $!";
    pipe my $r, my $w or die $!;
    my $pid = fork // die $!;
    if (!$pid) {
        close $r;
        # the soft limit just above the highest fd open; then every
        # free number under it taken
        my ($top) = sort { $b <=> $a } grep { /^\d+$/ } do {
            opendir my $d, '/proc/self/fd' or POSIX::_exit(2); readdir $d };
        my $hard = (Proc::Prefork::Interp::Linux::get_rlimit(7) or POSIX::_exit(3))->[1];
        Proc::Prefork::Interp::Linux::set_rlimit(7, $top + 1, $hard) or POSIX::_exit(3);
        my @fill;
        while (defined(my $fd = POSIX::dup(0))) { push @fill, $fd }
        POSIX::_exit(4) unless $! == POSIX::EMFILE();
        my ($fd, $why) = Proc::Prefork::Interp::FdMessage::receive($s, 5);
        syswrite $w, defined $fd ? "fd $fd" : ($why // 'undef');
        POSIX::_exit(0);
    }
    close $w;
    my $said = do { local $/; <$r> };
    waitpid $pid, 0;
    is($?, 0, 'no free number: the receiver ran');
    is($said, "no free fd number to receive the caller's fd 5 in (Too many open files)",
       'no free number: says so, naming the fd');
}

# The decision itself, on numbers.
my $f = \&Proc::Prefork::Interp::FdMessage::_fault;
is($f->(1, 0, 1, 0, 0), undef, 'one byte, one fd: fine');
is($f->(0, 0, 0, 0, 0), undef, 'nothing at all: EOF, not a fault');
like($f->(1, 1, 1, 0, 0), qr/truncated/, 'truncated wins over a count of one');
like($f->(1, 0, 1, 1, 0), qr/other than fds/, 'other control data');
like($f->(0, 0, 1, 0, 0), qr/no byte/, 'an fd without its byte');

done_testing();
