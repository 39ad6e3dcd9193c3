# Proc::Prefork::Interp::ExtraFds on its own: the block's length and
# numbers (pure decoders, good and bad bytes), receiving its messages,
# which number the script holds, and placing fds at their numbers in a
# forked child.
use strict;
use warnings;
use Test::More;
use Fcntl qw(F_GETFD FD_CLOEXEC);
use POSIX ();
use File::Temp qw(tempdir);
use Proc::Prefork::Interp::ExtraFds ();
use FindBin;
use lib "$FindBin::Bin/lib";
use FdTest qw(open_fds fd_table send_msg pair in_child);

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

#------------------------------------------------------------- placing

my $dir = tempdir(CLEANUP => 1);
my @files = map { "$dir/f$_" } 0 .. 3;
for my $rep (1 .. 20) {
    my $out = in_child(sub {
        my @before = fd_table();
        my @fds = map { POSIX::open($_, POSIX::O_CREAT() | POSIX::O_WRONLY() | 02000000, 0600) }
                  @files;
        # Wanted numbers where the other received fds sit: the swap
        # works only if every one is moved out of the way first.
        my @pairs = ([$fds[1], $fds[0]], [$fds[0], $fds[1]], [70, $fds[2]], [300, $fds[3]]);
        @pairs = sort { $a->[0] <=> $b->[0] } @pairs;
        my ($moved, $why) = $X->can('move_off')->(\@pairs);
        return "failed: $why\n" unless $moved;
        $why = $X->can('place')->($moved);
        return "failed: $why\n" if defined $why;
        my %want = map { $_ => 1 } @before;
        return join "\n", (grep { !$want{$_} } fd_table()), "fds: @fds", '';
    });
    my ($line) = $out =~ /^fds: (.*)$/m or do { fail "rep $rep: $out"; next };
    my @fds = split / /, $line;
    my %expect = ($fds[0] => $files[1], $fds[1] => $files[0], 70 => $files[2], 300 => $files[3]);
    my $want = join '', map { "$_ $expect{$_} inherit\n" } sort { $a <=> $b } keys %expect;
    $out =~ s/^fds: .*\n//m;
    is $out, $want, "rep $rep: each at its number, inherited, nothing else left open";
}

# Up to the hard limit on open files: a caller's fd just below it is an
# ordinary one (`ulimit -n 1024; exec 1023<file`), placed though no
# number above it is free for a copy; one at the limit cannot be.
for my $rep (1 .. 5) {
    my $out = in_child(sub {
        Proc::Prefork::Interp::Linux::set_rlimit(7, 64, 64) or return "setrlimit: $!\n";
        my @fds = map { POSIX::open($_, POSIX::O_CREAT() | POSIX::O_WRONLY() | 02000000, 0600) }
                  @files[0, 1];
        my @pairs = ([$fds[1], $fds[0]], [63, $fds[1]]);
        my $room = $X->can('lacks_room')->(\@pairs);
        return "no room: $room\n" if defined $room;
        my ($moved, $why) = $X->can('move_off')->(\@pairs);
        return "failed: $why\n" unless $moved;
        $why = $X->can('place')->($moved);
        return "failed: $why\n" if defined $why;
        return join "\n", (grep { /^(?:$fds[1]|63) / } fd_table()), '';
    });
    like $out, qr{\A\d+ \Q$files[0]\E inherit\n63 \Q$files[1]\E inherit\n\z},
         "rep $rep: fd 63 under a hard limit of 64 is placed, and a swap with it";
}
# Fds packed up to near the caller's soft limit (`ulimit -Sn 40` with
# fds 3 to 30): moved off under the server's limit, then placed under
# the caller's, which leaves no room for the copies below it.
for my $rep (1 .. 5) {
    my $out = in_child(sub {
        # (received on the lowest free numbers, the ones wanted)
        my @pairs = map { my $fd = POSIX::open($files[0], POSIX::O_WRONLY() | 02000000);
                          [$fd, $fd] } 1 .. 28;
        my $top = $pairs[-1][0];
        my ($moved, $why) = $X->can('move_off')->(\@pairs);
        return "failed: $why\n" unless $moved;
        Proc::Prefork::Interp::Linux::set_rlimit(7, $top + 10, 20000) or return "setrlimit: $!\n";
        $why = $X->can('place')->($moved);
        return "failed: $why\n" if defined $why;
        my %wanted = map { $_->[0] => 1 } @pairs;
        return join "\n", (grep { /^(\d+) / && $wanted{$1} } fd_table()), '';
    });
    is scalar(() = $out =~ /^\d+ \Q$files[0]\E inherit$/mg), 28,
       "rep $rep: 28 fds up to 10 below the soft limit are placed" or diag $out;
}
{
    my $out = in_child(sub {
        Proc::Prefork::Interp::Linux::set_rlimit(7, 64, 64) or return "setrlimit: $!";
        return $X->can('lacks_room')->([[64, 0]]) // 'room';
    });
    like $out, qr/^the caller's fd 64 does not fit under this server's hard limit of 64 open files/,
         'fd 64 under a hard limit of 64: no room, said so';
}

my $held = $X->can('held_by_script');
{
    open my $mine, '<', '/dev/null' or die;
    my $n = fileno $mine;
    my $free = 900;
    is_deeply [$held->([$n, $free], {})], [$n], 'an open number is held, a free one not';
    is_deeply [$held->([$n, $free], { $n => 1 })], [], 'unless it is the machinery\'s';
}
done_testing;
