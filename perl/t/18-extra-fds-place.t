# Proc::Prefork::Interp::ExtraFds::place on its own, in forked children
# holding nothing above 2 but what each case opens: the received fds
# (close-on-exec, at whatever numbers they arrived) put at their
# numbers in place: swaps and longer cycles, chains, fds already at
# their number, fds packed up to a hard limit on open files that leaves
# one number free, or none; each at its number, pointing at its own
# file, inheritable, and nothing else left open. Then lacks_room.
use strict;
use warnings;
use Test::More;
use POSIX ();
use File::Temp qw(tempdir);
use List::Util qw(shuffle);
use Proc::Prefork::Interp::ExtraFds ();
use Proc::Prefork::Interp::Linux qw(get_rlimit set_rlimit);
use FindBin;
use lib "$FindBin::Bin/lib";
use FdTest qw(fd_table in_bare_child);

use constant {
    NOFILE    => 7,
    REPORT_FD => 999,    # the child's pipe back: above every limit set
    O_CLOEXEC => 02000000,
};

my $place = Proc::Prefork::Interp::ExtraFds->can('place');
my $dir = tempdir(CLEANUP => 1);
# One file per number a caller's fd can want here, so that an fd placed
# at another's number shows.
my %file = map { $_ => "$dir/for-$_" } 3 .. 80;
for my $path (values %file) {
    open my $fh, '>', $path or die "$path: $!";
    close $fh;
}

# In the child: fd_table's rows above 2 but the report's and the
# table's own (its listing's number, reused to read each fdinfo).
sub open_above_2 {
    return grep { /^(\d+) (\S+)/ && $1 > 2 && $1 != REPORT_FD && $2 !~ m{^/proc/} }
           fd_table();
}

# In the child: the fd wanted at number W opened (close-on-exec, as
# received) on number $at->{W}, each the lowest free when its turn
# comes; numbers in between hold /dev/null until all are open.
sub receive_at {
    my ($at) = @_;
    my %wants = reverse %$at;
    my $top = (sort { $b <=> $a } keys %wants)[0];
    my @filler;
    for my $n (3 .. $top) {
        my $fd = defined $wants{$n}
               ? POSIX::open($file{$wants{$n}}, POSIX::O_RDONLY() | O_CLOEXEC)
               : POSIX::open('/dev/null', POSIX::O_RDONLY() | O_CLOEXEC);
        return "opening for $n: $!" unless defined $fd && $fd == $n;
        push @filler, $fd unless defined $wants{$n};
    }
    POSIX::close($_) for @filler;
    return undef;
}

# In the child: the pairs of $at placed under the limits given, then
# the fd table above 2 but the report's, and the soft limit after.
sub place_and_report {
    my ($at, $limits) = @_;
    my $why = receive_at($at);
    return "$why\n" if defined $why;
    if ($limits) {
        set_rlimit(NOFILE, @$limits) or return "setrlimit: $!\n";
    }
    my $before = get_rlimit(NOFILE);
    my @pairs = map { [$_, $at->{$_}] } sort { $a <=> $b } keys %$at;
    $why = $place->(\@pairs);
    return "failed: $why\n" if defined $why;
    my $after = get_rlimit(NOFILE);
    return join '', map { "$_\n" } open_above_2(),
        "limits @$after" . ("@$after" eq "@$before" ? '' : " (before: @$before)");
}

# What place_and_report must give: each wanted number with its file,
# inheritable, nothing else; the limits as set.
sub expected {
    my ($at, $limits) = @_;
    my $lim = $limits // get_rlimit(NOFILE);
    return join '', (map { "$_ $file{$_} inherit\n" } sort { $a <=> $b } keys %$at),
                    "limits @$lim\n";
}

sub placed_ok {
    my ($at, $limits, $name) = @_;
    my $out = in_bare_child(sub { place_and_report($at, $limits) }, REPORT_FD);
    is $out, expected($at, $limits), $name
        or diag 'wanted => received at: ',
                join ' ', map { "$_=>$at->{$_}" } sort { $a <=> $b } keys %$at;
}

for my $rep (1 .. 5) {
    placed_ok({ 3 => 4, 4 => 3 }, undef, "rep $rep: a swap (3 held at 4, 4 at 3)");
    placed_ok({ 3 => 4, 4 => 5, 5 => 3 }, undef, "rep $rep: a cycle of three");
    placed_ok({ 3 => 4, 4 => 5, 5 => 6 }, undef, "rep $rep: a chain (3 at 4, 4 at 5, 5 at 6)");
    placed_ok({ 3 => 3, 5 => 5, 9 => 9 }, undef, "rep $rep: each at its own number (its flag cleared)");
    placed_ok({ 3 => 10, 4 => 11, 70 => 12 }, undef, "rep $rep: onto free numbers, one high");
    placed_ok({ 3 => 5, 4 => 3, 5 => 4, 6 => 7, 7 => 8, 8 => 12, 9 => 9, 10 => 11, 11 => 10 },
              undef, "rep $rep: cycles, a chain and one in place together");
}

# Packed up to a hard limit (`ulimit -n 32`, fds 3 to 30 wanted, each
# received at another of them): numbers 0 to 30 are taken, 31 is the
# only one free, as a standalone run of a script holding them has one
# at least (to open the script). The chain needs none at all.
for my $rep (1 .. 20) {
    my @wanted = 3 .. 30;
    my @at = $rep == 1 ? reverse(@wanted) : shuffle(@wanted);
    my %at;
    @at{@wanted} = @at;
    placed_ok(\%at, [32, 32], "rep $rep: fds 3 to 30, shuffled among themselves, under a hard limit of 32");
}
for my $rep (1 .. 3) {
    placed_ok({ map { $_ => $_ + 1 } 3 .. 30 }, [32, 32],
              "rep $rep: fds 3 to 30 received on 4 to 31 (a chain), no number free, under a hard limit of 32");
    placed_ok({ map { $_ => $_ } 3 .. 30 }, [32, 32],
              "rep $rep: fds 3 to 30 received on their own numbers under a hard limit of 32");
}

# The soft limit below the numbers (the caller's, or a server's low
# one) is raised to the hard one while they are placed, and put back.
for my $rep (1 .. 5) {
    my %at = (63 => 3, 3 => 4, 4 => 63);
    placed_ok(\%at, [10, 64], "rep $rep: fd 63 and a cycle with it, under a soft limit of 10 and a hard one of 64");
    my @wanted = 3 .. 30;
    my %packed;
    @packed{@wanted} = shuffle(@wanted);
    placed_ok(\%packed, [32, 40], "rep $rep: fds 3 to 30 shuffled, under a soft limit of 32");
}

# No number free at all for a cycle (every one below the hard limit
# taken, which leaves a standalone interpreter no room for the script
# either): said so, and no fd received is left open off its number.
for my $rep (1 .. 3) {
    my $out = in_bare_child(sub {
        my %at = (3 => 4, 4 => 3);
        my $why = receive_at(\%at);
        return "$why\n" if defined $why;
        set_rlimit(NOFILE, 5, 5) or return "setrlimit: $!\n";
        $why = $place->([[3, 4], [4, 3]]) // 'placed';
        return join '', map { "$_\n" } $why, open_above_2();
    }, REPORT_FD);
    like $out, qr/\Aplacing the caller's fd 3: Too many open files\n\z/,
         "rep $rep: a swap with no number free fails, says why, leaves nothing open";
}

my $lacks = Proc::Prefork::Interp::ExtraFds->can('lacks_room');
{
    my $out = in_bare_child(sub {
        set_rlimit(NOFILE, 64, 64) or return "setrlimit: $!";
        return join "\n", $lacks->([[63, 3]]) // 'room', $lacks->([[64, 3]]) // 'room';
    }, REPORT_FD);
    like $out, qr/\Aroom\nthe caller's fd 64 does not fit under this server's hard limit of 64 open files/,
         'fd 63 under a hard limit of 64 fits; fd 64 does not, said so';
}
done_testing;
