package Proc::Prefork::Interp::Protocol;

# The wire codec of protocol v1, server side, like src/protocol.c: pure
# functions on strings, no I/O. Errors come back as a message, for the
# caller to report; nothing here dies or logs.

use strict;
use warnings;

use Fcntl qw(O_ACCMODE O_RDONLY O_WRONLY);
use Proc::Prefork::Interp::CallerState ();
use Proc::Prefork::Interp::ExtraFds ();
use Proc::Prefork::Interp::RequestReader ();

use constant {
    ENV_NAME     => 'PREFORK_INTERP',
    XDATA        => 'full-argv',
    SIGNALS      => 'signals',     # token of the `signals` extension
    USE_SIGNALS  => 0x02,          # step-2 bit of the `signals` extension
    # Item in PREFORK_INTERP's first word by which a client that
    # decodes the greeting's xdata length correctly (big-endian) says so.
    # chiark-utils' client reads that length in host byte order, so it
    # must get empty xdata; it never sets this item.
    XDATA_MARKER => 'xdata',
    # The C client's PFI_REQUEST_MAX; see RequestReader.
    MAX_REQUEST  => Proc::Prefork::Interp::RequestReader::MAX_REQUEST,
};

# PREFORK_INTERP's syntax: (\%parsed, undef) or (undef, $why). The four
# fds are checked for form only; whether they are open is the caller's
# business (see assign_fds).
sub parse_env {
    my ($value) = @_;
    my @words = split / /, $value, -1;
    @words >= 2 or return (undef, 'expected at least two space-separated words');
    my @version = split /,/, $words[0], -1;
    @version >= 2 && $version[0] eq 'v1'
        or return (undef, 'first word must be "v1,SECS.NSECS" (protocol v1)');
    my ($secs, $nsecs) = $version[1] =~ /\A([0-9]+)(?:\.([0-9]{1,9}))?\z/
        or return (undef, "startup time \"$version[1]\" is not SECS.NSECS");
    $nsecs = substr(($nsecs // '') . '000000000', 0, 9);

    my @fds = split /,/, $words[1], -1;
    @fds >= 4 or return (undef, 'second word must list at least four fds');
    my %seen;
    for my $fd (@fds[0 .. 3]) {
        $fd =~ /\A[0-9]{1,9}\z/ or return (undef, "\"$fd\" is not an fd number");
        $fd += 0;
        $fd > 2 or return (undef, "fd $fd is a standard stream");
        $seen{$fd}++ and return (undef, "fd $fd is listed twice");
    }
    return ({
        secs   => $secs + 0,
        nsecs  => $nsecs + 0,
        fds    => [@fds[0 .. 3]],
        client_reads_xdata =>
            scalar grep { $_ eq XDATA_MARKER } @version[2 .. $#version],
    }, undef);
}

# Which fd is which, given each fd's status flags (as F_GETFL reports
# them). chiark-utils passes WATCHI before WATCHE; the access modes say
# which is which whatever the order, so only an undecidable case uses it.
sub assign_fds {
    my ($fds, $flags) = @_;
    my ($watchi, $watche) = @$fds[2, 3];
    if (($flags->{$fds->[2]} & O_ACCMODE) == O_RDONLY
        && ($flags->{$fds->[3]} & O_ACCMODE) == O_WRONLY) {
        ($watchi, $watche) = @$fds[3, 2];
    }
    return { listen => $fds->[0], call => $fds->[1],
             watchi => $watchi, watche => $watche };
}

# The bytes every call starts with. [caller-state], [signals] and
# [extra-fds] offered with the extension data, i.e. to clients that
# announced ",xdata".
sub greeting {
    my ($client_reads_xdata) = @_;
    my $xdata = $client_reads_xdata
        ? join(' ', XDATA, Proc::Prefork::Interp::CallerState::TOKEN, SIGNALS,
               Proc::Prefork::Interp::ExtraFds::TOKEN)
        : '';
    return "PFI\n" . pack('N', length $xdata) . $xdata;
}

# What a server sends instead of the greeting when it cannot take the
# call now (it could make no process for it), to a client that
# announced ",xdata" (ours, which then runs the script itself: nothing
# of the call ran); undef for other clients, which only get the close.
sub declined {
    my ($client_reads_xdata) = @_;
    return $client_reads_xdata ? "PFI-\0\0\0\0" : undef;
}

# The step-2 bits a server with that greeting accepts.
sub offered_bits {
    my ($client_reads_xdata) = @_;
    return $client_reads_xdata
        ? Proc::Prefork::Interp::CallerState::USE_BIT | USE_SIGNALS
          | Proc::Prefork::Interp::ExtraFds::USE_BIT
        : 0;
}

# The first byte of the client's part, the extensions it uses: (bits,
# undef) if it uses only what was offered, else (undef, the fault).
sub check_initial_byte {
    my ($byte, $offered) = @_;
    my $used = ord $byte;
    return ($used, undef) unless $used & ~($offered // 0);
    return (undef, sprintf 'initial byte is 0x%02x, but this server offered 0x%02x',
                           $used, $offered // 0);
}

# The request, whole (for tests and tools: the server reads it as it
# arrives, with RequestReader, the one decoder): environment then
# argument strings, each NUL-terminated, the environment ended by an
# empty string. (\%env, \@args, undef) or (undef, undef, $why).
sub decode_request {
    my ($req) = @_;
    my $reader = Proc::Prefork::Interp::RequestReader->new;
    my $why = $reader->feed(pack('N', length $req) . $req);
    return (undef, undef, $why) if defined $why;
    return $reader->request;
}

# The call's end, as the client reads it: the wait status.
sub encode_status {
    my ($status) = @_;
    return pack('N', $status);
}

1;
