# Proc::Prefork::Interp::ExtraFds on its own: the block's length and
# numbers (pure decoders, good and bad bytes), receiving its messages,
# which number the script holds.
use strict;
use warnings;
use Test::More;
use Fcntl qw(F_GETFD FD_CLOEXEC);
use POSIX ();
use Proc::Prefork::Interp::ExtraFds ();
use FindBin;
use lib "$FindBin::Bin/lib";
use FdTest qw(open_fds send_msg pair in_child);

my $X = 'Proc::Prefork::Interp::ExtraFds';
is $X->can('TOKEN')->(), 'extra-fds', 'token';
is $X->can('USE_BIT')->(), 0x04, 'step-2 bit';

#------------------------------------------------------------- length

my $count = $X->can('count_of_length');
is_deeply [$count->(4)], [1, undef], 'L=4: one fd';
is_deeply [$count->(256)], [64, undef], 'L=256: 64 fds, the most';
for my $case ([0, qr/^extra-fds length 0: no fd/],
              [5, qr/^extra-fds length 5 is not a multiple of 4$/],
              [2, qr/^extra-fds length 2 is not a multiple of 4$/],
              [260, qr/^extra-fds length 260: 65 fds, more than 64$/],
              [0xfffffffc, qr/^extra-fds length 4294967292: 1073741823 fds, more than 64$/]) {
    my ($len, $want) = @$case;
    my ($n, $why) = $count->($len);
    ok !defined $n, "L=$len refused";
    like $why // '', $want, "L=$len: says why";
}

#------------------------------------------------------------- numbers

my $decode = $X->can('decode');
is_deeply [$decode->(pack 'N*', 3, 9, 63, 200)], [[3, 9, 63, 200], undef], 'four numbers';
is_deeply [$decode->(pack 'N', 3)], [[3], undef], 'the lowest';
is_deeply [$decode->(pack 'N', 0x7fffffff)], [[0x7fffffff], undef], 'the highest';
is_deeply [$decode->(pack 'N*', 3 .. 66)], [[3 .. 66], undef], '64 numbers';
for my $case (['', qr/no fd/, 'empty'],
              [pack('N*', 3 .. 67), qr/more than 64/, '65 numbers'],
              [pack('N', 3) . 'x', qr/not a multiple of 4/, 'a partial number'],
              [pack('N*', 9, 3), qr/^extra fd 3 follows 9: not ascending$/, 'descending'],
              [pack('N*', 9, 9), qr/^extra fd 9 follows 9: not ascending$/, 'repeated'],
              [pack('N*', 2), qr/^extra fd 2 is below 3$/, 'a standard stream'],
              [pack('N*', 0), qr/^extra fd 0 is below 3$/, 'fd 0'],
              [pack('N*', 3, 0x80000000), qr/^extra fd 2147483648 is above 2147483647$/,
               '2^31'],
              [pack('N*', 0xffffffff), qr/^extra fd 4294967295 is above 2147483647$/,
               '2^32-1 (-1 as an int)']) {
    my ($bytes, $want, $name) = @$case;
    my ($fds, $why) = $decode->($bytes);
    ok !defined $fds, "$name: refused";
    like $why // '', $want, "$name: says why";
}

#------------------------------------------------------------- receiving

open my $passed, '<', '/dev/null' or die $!;
my $pfd = fileno $passed;
my $receive = $X->can('receive');
{
    my ($c, $s) = pair();
    send_msg($c, "\0", $pfd) for 1 .. 3;
    my ($fds, $why) = $receive->($s, [3, 9, 63]);
    is scalar @{$fds // []}, 3, 'three messages: three fds' or diag $why;
    ok((fcntl(do { open my $fh, '<&=', $fds->[0] or die; $fh }, F_GETFD, 0) & FD_CLOEXEC),
       'received close-on-exec, until placed');
    POSIX::close($_) for @{$fds // []};
}
for my $case ([[1, 0, 1], qr/^message for fd 9 carried no file descriptor$/, 'no fd'],
              [[1, 2], qr/^message for fd 9 carried 2 file descriptors, not one$/, 'two fds']) {
    my ($counts, $want, $name) = @$case;
    my ($c, $s) = pair();
    my $before = open_fds();
    send_msg($c, "\0", ($pfd) x $_) for @$counts;
    my ($fds, $why) = $receive->($s, [3, 9, 63]);
    ok !defined $fds, "$name: refused";
    like $why // '', $want, "$name: says why";
    is open_fds(), $before, "$name: every fd received is closed again";
}
{
    my ($c, $s) = pair();
    send_msg($c, "\0", $pfd) or die "sendmsg: $!";
    close $c;
    my $before = open_fds();
    my ($fds, $why) = $receive->($s, [3, 9]);
    ok !defined $fds && !defined $why, 'a client gone after one message: gone, no fault';
    is open_fds(), $before, 'the fd it sent is closed again';
}

#------------------------------------------------------------- held

# (placing: 18-extra-fds-place.t)
my $held = $X->can('held_by_script');
{
    open my $mine, '<', '/dev/null' or die;
    my $n = fileno $mine;
    my $free = 900;
    is_deeply [$held->([$n, $free], {})], [$n], 'an open number is held, a free one not';
    is_deeply [$held->([$n, $free], { $n => 1 })], [], 'unless it is the machinery\'s';
    is_deeply [$held->([0, 1, 2], {})], [0, 1, 2], 'stdio is open';
}
# Told without a free number: fds packed up to the hard limit.
{
    my $out = in_child(sub {
        Proc::Prefork::Interp::Linux::set_rlimit(7, 40, 40) or return "setrlimit: $!";
        my @mine;
        while (defined(my $fd = POSIX::open('/dev/null', POSIX::O_RDONLY()))) {
            push @mine, $fd;
        }
        return join ' ', scalar(@mine), $held->([3, 39, 40], {});
    });
    like $out, qr/^\d+ 3 39$/, 'every number taken: 3 and 39 are held, 40 (at the limit) not';
}
done_testing;
