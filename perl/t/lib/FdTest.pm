package FdTest;

# Helpers of the module's unit tests on fds and children: what is open,
# sending one message with fds attached, a socket pair, and running code
# in a forked child.

use strict;
use warnings;

use Exporter qw(import);
our @EXPORT_OK = qw(open_fds fd_table send_msg pair in_child in_bare_child);

use POSIX ();
use Socket qw(AF_UNIX SOCK_STREAM PF_UNSPEC SOL_SOCKET SCM_RIGHTS);
use Socket::MsgHdr ();

# The open fds, "0,1,2,...": the listing's own is among them, at the
# same number whenever nothing else changed.
sub open_fds {
    opendir my $d, '/proc/self/fd' or die $!;
    return join ',', sort { $a <=> $b } grep { /^\d+$/ } readdir $d;
}

# "N TARGET inherit|cloexec" of every open fd but the listing's.
sub fd_table {
    opendir(my $dh, '/proc/self/fd') or die $!;
    my @fds = sort { $a <=> $b } grep { /\A\d+\z/ } readdir $dh;
    closedir $dh;
    my @rows;
    for my $fd (@fds) {
        my $target = readlink("/proc/self/fd/$fd") // next;
        open(my $info, '<', "/proc/self/fdinfo/$fd") or next;
        # The flags field is octal; O_CLOEXEC is 02000000.
        my ($f) = map { /\Aflags:\s*([0-7]+)/ ? $1 : () } <$info>;
        close $info;
        push @rows, "$fd $target " . (oct($f) & 02000000 ? 'cloexec' : 'inherit');
    }
    return @rows;
}

# Sends one message: $bytes of data, with @fds (numbers) attached if any.
sub send_msg {
    my ($s, $bytes, @fds) = @_;
    my $hdr = Socket::MsgHdr->new(buf => $bytes);
    $hdr->cmsghdr(SOL_SOCKET, SCM_RIGHTS, pack('i*', @fds)) if @fds;
    local $SIG{PIPE} = 'IGNORE';
    return defined Socket::MsgHdr::sendmsg($s, $hdr, 0);
}

sub pair {
    socketpair(my $a, my $b, AF_UNIX, SOCK_STREAM, PF_UNSPEC) or die $!;
    return ($a, $b);
}

# Runs $code in a child; returns what it returned (or "died: ...").
sub in_child {
    my ($code) = @_;
    return _in_child($code, sub { $_[0] });
}

# Runs $code in a child holding nothing above 2 but its pipe back, on
# fd $report (an fd stays open above a limit on open files the code
# sets); returns what it returned (or "died: ...").
sub in_bare_child {
    my ($code, $report) = @_;
    return _in_child($code, sub {
        my ($w) = @_;
        defined POSIX::dup2(fileno $w, $report) or POSIX::_exit(1);
        opendir my $d, '/proc/self/fd' or POSIX::_exit(2);
        my @open = grep { /\A\d+\z/ && $_ > 2 && $_ != $report } readdir $d;
        closedir $d;
        POSIX::close($_) for @open;
        open my $out, '>&=', $report or POSIX::_exit(3);
        return $out;
    });
}

# The child writes what $code returned to the handle $prepare makes of
# the pipe's writing end.
sub _in_child {
    my ($code, $prepare) = @_;
    pipe(my $r, my $w) or die;
    my $pid = fork // die;
    unless ($pid) {
        close $r;
        my $report = $prepare->($w);
        my $out = eval { $code->() } // "died: $@";
        print {$report} $out;
        close $report;
        POSIX::_exit(0);
    }
    close $w;
    local $/;
    my $out = <$r>;
    waitpid $pid, 0;
    return $out;
}

1;
