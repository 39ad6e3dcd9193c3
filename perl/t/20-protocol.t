use strict;
use warnings;
use Test::More;
use Fcntl qw(O_RDONLY O_WRONLY O_RDWR O_NONBLOCK);
use Proc::Prefork::Interp::Protocol;

# The codec on strings: no fds, no sockets.
my $P = 'Proc::Prefork::Interp::Protocol';

my ($env, $why) = $P->can('parse_env')->('v1,12.5,xdata,other 10,11,12,13,14 extra');
is $why, undef, 'a good value parses';
is_deeply $env, { secs => 12, nsecs => 500000000, fds => [10, 11, 12, 13],
                  client_reads_xdata => 1 }, 'fields, nsecs padded, xdata seen';
($env) = $P->can('parse_env')->('v1,7 3,4,5,6');
is $env->{nsecs}, 0, 'no fraction is 0 ns';
ok !$env->{client_reads_xdata}, 'no xdata item: no xdata';

for my $case (
    ['',                        qr/at least two/],
    ['v1,1.0',                  qr/at least two/],
    ['v2,1.0 3,4,5,6',          qr/v1/],
    ['v1 3,4,5,6',              qr/v1/],
    ['v1,1.1234567890 3,4,5,6', qr/SECS\.NSECS/],
    ['v1,-1 3,4,5,6',           qr/SECS\.NSECS/],
    ['v1,1 3,4,5',              qr/four/],
    ['v1,1 3,x,5,6',            qr/"x" is not an fd number/],
    ['v1,1 3,4,3,6',            qr/fd 3 is listed twice/],
    ['v1,1 3,4,2,6',            qr/fd 2 is a standard stream/],
    ['v1,1 3,4,5,1234567890',   qr/not an fd number/],
) {
    my ($value, $re) = @$case;
    my ($p, $err) = $P->can('parse_env')->($value);
    ok !$p, "'$value' is refused";
    like $err, $re, "'$value': says why";
}

# Watcher fds: told apart by access mode; undecidable keeps the order.
my $assign = $P->can('assign_fds');
is_deeply $assign->([3, 4, 5, 6], { 3 => O_RDWR, 4 => O_RDWR, 5 => O_WRONLY, 6 => O_RDONLY }),
    { listen => 3, call => 4, watchi => 5, watche => 6 }, 'chiark order';
is_deeply $assign->([3, 4, 5, 6], { 3 => O_RDWR, 4 => O_RDWR,
                                    5 => O_RDONLY | O_NONBLOCK, 6 => O_WRONLY }),
    { listen => 3, call => 4, watchi => 6, watche => 5 }, 'read end first: swapped';
is_deeply $assign->([3, 4, 5, 6], { map { $_ => O_RDWR } 3 .. 6 }),
    { listen => 3, call => 4, watchi => 5, watche => 6 }, 'undecidable: as given';

is $P->can('greeting')->(1), "PFI\n\0\0\0\x28full-argv caller-state signals extra-fds", 'greeting with xdata';
is $P->can('greeting')->(0), "PFI\n\0\0\0\0", 'greeting without';
is $P->can('declined')->(1), "PFI-\0\0\0\0", 'declined, to our client (as src/protocol.h PFI_DECLINED)';
is $P->can('declined')->(0), undef, 'nothing but the close to other clients';
is $P->can('offered_bits')->(1), 0x07,
    'with xdata, caller-state (0x01), signals (0x02) and extra-fds (0x04) are offered';
is $P->can('offered_bits')->(0), 0, 'without, nothing';

is_deeply [$P->can('check_initial_byte')->("\0", 0)], [0, undef], 'initial byte 0 is fine';
is_deeply [$P->can('check_initial_byte')->("\x01", 1)], [1, undef], 'an offered bit is fine';
is_deeply [$P->can('check_initial_byte')->("\x03", 3)], [3, undef], 'both offered bits are fine';
like +($P->can('check_initial_byte')->("\x01", 0))[1],
    qr/initial byte is 0x01, but this server offered 0x00/, 'an unoffered one is not';
like +($P->can('check_initial_byte')->("\x07", 3))[1],
    qr/initial byte is 0x07, but this server offered 0x03/, 'nor one more than offered';

# The length field and the limits: perl/t/31-request-reader.t.

my $decode = $P->can('decode_request');
my ($e, $a, $err) = $decode->("A=1\0B=x=y\0EMPTY=\0\0perl\0script\0arg one\0\0");
is $err, undef, 'a good request decodes';
is_deeply $e, { A => 1, B => 'x=y', EMPTY => '' }, 'environment, first "=" splits';
is_deeply $a, ['perl', 'script', 'arg one', ''], 'arguments, empty one kept';
for my $case (
    ["A=1\0\0perl\0script",       qr/does not end with NUL/],
    ["A=1\0B=2\0",                qr/no end of environment/],
    ["NOEQUALS\0\0perl\0script\0", qr/without "="/],
    ["A=1\0\0perl\0",             qr/1 argument strings/],
    ["A=1\0\0",                   qr/0 argument strings/],
) {
    my ($req, $re) = @$case;
    (my $shown = $req) =~ s/\0/\\0/g;
    my ($e2, $a2, $bad) = $decode->($req);
    ok !$e2 && !$a2, "'$shown' refused";
    like $bad, $re, "'$shown': says why";
}

is $P->can('encode_status')->(0x0102), "\0\0\x01\x02", 'status big-endian';

done_testing;
