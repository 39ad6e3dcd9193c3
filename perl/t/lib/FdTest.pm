package FdTest;

# Helpers of the module's unit tests on fds and children: what is open,
# sending one message with fds attached, a socket pair, and running code
# in a forked child.

use strict;
use warnings;

use Exporter qw(import);
our @EXPORT_OK = qw(open_fds fd_table send_msg pair in_child);

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
    pipe(my $r, my $w) or die;
    my $pid = fork // die;
    unless ($pid) {
        close $r;
        my $out = eval { $code->() } // "died: $@";
        print {$w} $out;
        close $w;
        POSIX::_exit(0);
    }
    close $w;
    local $/;
    my $out = <$r>;
    waitpid $pid, 0;
    return $out;
}

1;
