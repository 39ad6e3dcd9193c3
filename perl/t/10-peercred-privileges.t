# PeerCreds::less_privileged: a caller of our uid, gid and groups with
# less privilege than the server (no-new-privs, fewer capabilities) is
# named; one with the same is not.  Runs as any user: the caller is a
# forked child that connects after dropping privilege.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use POSIX ();
use Socket qw(AF_UNIX SOCK_STREAM SOMAXCONN pack_sockaddr_un);
use Proc::Prefork::Interp::PeerCreds ();

my %status = (CapInh => '0000000000000000', CapPrm => '000001ffffffffff',
              CapBnd => '000001ffffffffff', CapAmb => '0000000000000000',
              NoNewPrivs => 0, Seccomp => 0);
my $text = join '', map { "$_:\t$status{$_}\n" } sort keys %status;
is_deeply Proc::Prefork::Interp::PeerCreds::_privileges("Name:\tx\n$text"), \%status,
    'the fields are read from a status text';
is Proc::Prefork::Interp::PeerCreds::_privileges("CapPrm:\t0\n"), undef,
    'a status without every field gives nothing';
ok Proc::Prefork::Interp::PeerCreds::_holds('000001ffffffffff', '0000010000000400'),
    'a set holds a subset of itself';
ok !Proc::Prefork::Interp::PeerCreds::_holds('000001ffffffffff', '0000020000000000'),
    'a capability above bit 32 missing is found';
ok !Proc::Prefork::Interp::PeerCreds::_holds('0000000000000000', '0000000000000400'),
    'a capability below bit 32 missing is found';

my $dir = tempdir(CLEANUP => 1);
my $path = "$dir/s";
socket(my $listen, AF_UNIX, SOCK_STREAM, 0) or die "socket: $!";
bind($listen, pack_sockaddr_un($path)) or die "bind: $!";
listen($listen, SOMAXCONN) or die "listen: $!";

# Connects from a child that first runs $drop; returns the server's
# verdict on it.
sub verdict_on {
    my ($drop) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        eval { $drop->(); 1 } or POSIX::_exit(5);
        socket(my $s, AF_UNIX, SOCK_STREAM, 0) or POSIX::_exit(2);
        connect($s, pack_sockaddr_un($path)) or POSIX::_exit(3);
        sysread $s, my $byte, 1;     # held until the parent has looked
        POSIX::_exit(0);
    }
    accept(my $call, $listen) or die "accept: $!";
    my $why = Proc::Prefork::Interp::PeerCreds::less_privileged($call, $pid);
    close $call;
    waitpid $pid, 0;
    return $why;
}

is verdict_on(sub {}), undef, 'a caller as privileged as the server is accepted';

# syscall.ph defines its subs in the package that first required it.
my $SYS_prctl = do {
    no strict 'refs';
    eval { require 'syscall.ph' };
    my ($pkg) = grep { defined &{"${_}::SYS_prctl"} }
        'main', 'Proc::Prefork::Interp::Linux', 'Proc::Prefork::Interp';
    $pkg ? &{"${pkg}::SYS_prctl"}() : undef;
};
plan skip_all => 'no prctl syscall number (syscall.ph)' unless $SYS_prctl;
like verdict_on(sub { syscall($SYS_prctl, 38, 1, 0, 0, 0) == 0 or POSIX::_exit(4) }),
    qr/\Aruns with no-new-privs \(this server does not\)\z/,
    'a caller with no-new-privs is named';

SKIP: {
    open my $fh, '<', '/proc/self/status' or die;
    my ($bnd) = join('', <$fh>) =~ /^CapBnd:\s*(\S+)/m;
    skip 'the bounding set is already empty', 1 if $bnd =~ /\A0+\z/;
    # PR_CAPBSET_DROP needs CAP_SETPCAP: as root only.
    skip 'needs root to drop from the bounding set', 1 unless $> == 0;
    like verdict_on(sub {
            for my $cap (0 .. 63) { syscall($SYS_prctl, 24, $cap, 0, 0, 0) }
        }),
        qr/\Alacks capabilities this server has \(bounding 0{16}, this server has $bnd\)\z/,
        'a caller with an empty bounding set is named';
}

done_testing;
