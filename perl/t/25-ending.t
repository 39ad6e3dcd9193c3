use strict;
use warnings;
use Test::More;
use FindBin;
use File::Temp qw(tempdir);
use lib "$FindBin::Bin/../lib";
use Proc::Prefork::Interp::Memory ();
use Proc::Prefork::Interp::MainConstants ();
use POSIX ();

# Why MADV_COLLAPSE (Linux 6.1) cannot work here, or '' if it can.
sub no_collapse_here {
    my ($major, $minor) = (POSIX::uname())[2] =~ /\A(\d+)\.(\d+)/;
    return 'Linux before 6.1' if !defined $minor || $major < 6 || ($major == 6 && $minor < 1);
    open my $fh, '<', '/sys/kernel/mm/transparent_hugepage/enabled'
        or return 'no transparent huge pages';
    my $mode = <$fh> // '';
    return 'transparent huge pages set to never' if $mode =~ /\[never\]/;
    return '';
}

# What a call's ordinary end writes to memory it shares with the server:
# the pages of every glob (Memory::glob_addresses, copied by a spare in
# advance) and the main program's constants (MainConstants, kept by the
# server so that the end does not free them).

my $M = 'Proc::Prefork::Interp::Memory';
is_deeply [$M->can('page_ranges')->(0x5010, 0x3000, 0x3fff, 0x4000, 0x9008, 0x5000)],
    [[0x3000, 0x6000], [0x9000, 0xa000]],
    'page ranges: sorted, one page per address, touching pages merged';
is_deeply [$M->can('page_ranges')->()], [], 'no addresses: no ranges';

our $probe = 1;
sub Deeply::Nested::Package::probe { 1 }
my %addr = map { $_ => 1 } $M->can('glob_addresses')->();
ok $addr{${B::svref_2object(\*main::probe)}}, 'glob_addresses: a glob of main';
ok $addr{${B::svref_2object(\*Deeply::Nested::Package::probe)}},
    'glob_addresses: a glob of a nested package';
ok $addr{${B::svref_2object(\*Proc::Prefork::Interp::Memory::page_ranges)}},
    'glob_addresses: a glob of a loaded module';

# prefault_ending: in a forked child, the pages holding glob heads are
# shared with the parent until it runs, and its own afterwards (the
# "exclusively mapped" bit of /proc/self/pagemap).
{
    require Socket;
    my @ranges = $M->can('page_ranges')->($M->can('glob_addresses')->());
    my @pages = map { my $r = $_; map { $r->[0] + $_ * 4096 } 0 .. ($r->[1] - $r->[0]) / 4096 - 1 } @ranges;
    my $own = sub {
        open(my $pm, '<:raw', '/proc/self/pagemap') or return undef;
        my $n = 0;
        for my $page (@pages) {
            sysseek($pm, $page / 4096 * 8, 0);
            sysread($pm, my $entry, 8) == 8 or next;
            my $v = unpack('Q<', $entry);
            $n++ if ($v >> 63) & 1 && ($v >> 56) & 1;   # present, exclusive
        }
        return $n;
    };
    socketpair(my $ctl, my $far, Socket::AF_UNIX(), Socket::SOCK_STREAM(), 0) or die;
    pipe(my $r, my $w) or die;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $before = $own->() // -1;
        $M->can('prefault_ending')->($ctl, \@ranges);
        syswrite $w, join ' ', $before, $own->() // -1;
        POSIX::_exit(0);
    }
    close $w;
    my ($before, $after) = split ' ', <$r> // '';
    waitpid($pid, 0);
    cmp_ok scalar(@pages), '>', 10, 'glob heads span some pages (' . scalar(@pages) . ')';
    cmp_ok $before, '<', scalar(@pages), "before prefault_ending, a child shares most of them ($before its own)";
    is $after, scalar(@pages), 'afterwards all are its own';
}

# copy_first: a spare's first blocks become its own, whole, before
# anything else; a call waiting on the control socket stops it. A child
# forked for a call (no control socket to watch) copies them all.
{
    our @bulk = map { 'x' x 200 } 1 .. 60_000;     # a heap with whole 2 MB blocks
    my @regions = grep { $_->[2] eq '[heap]' } $M->can('writable_regions')->();
    my @blocks = $M->can('first_blocks')->(1 << 30, 1, [], @regions);
    my $own = sub {
        my ($blocks) = @_;
        open(my $pm, '<:raw', '/proc/self/pagemap') or return -1;
        my $n = 0;
        for my $block (@$blocks) {
            sysseek($pm, $block / 4096 * 8, 0);
            sysread($pm, my $entries, 512 * 8) == 512 * 8 or next;
            for my $v (unpack('Q<512', $entries)) {
                $n++ if ($v >> 63) & 1 && ($v >> 56) & 1;   # present, exclusive
            }
        }
        return $n;
    };
    my $child = sub {
        my ($to_ctl, $for_call) = @_;
        socketpair(my $ctl, my $far, Socket::AF_UNIX(), Socket::SOCK_STREAM(), 0) or die;
        syswrite($far, $to_ctl) if length $to_ctl;
        undef $ctl if $for_call;
        pipe(my $r, my $w) or die;
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $before = $own->(\@blocks);
            my $copied = $M->can('copy_first')->($ctl, \@blocks);
            syswrite $w, join ' ', $before, $own->(\@blocks), scalar(keys %$copied);
            POSIX::_exit(0);
        }
        close $w;
        my @got = split ' ', <$r> // '';
        waitpid($pid, 0);
        return @got;
    };
    SKIP: {
        skip 'the heap has no whole 2 MB block', 5 unless @blocks;
        # Decided from the kernel, not from what copy_first reports: a
        # copy_first that copied nothing must fail here, not skip.
        my $why_not = no_collapse_here();
        skip "this kernel makes no huge pages on request (MADV_COLLAPSE): $why_not", 5
            if $why_not;
        my ($before, $after, $n) = $child->('');
        my $pages = 512 * @blocks;
        cmp_ok $before, '<', $pages / 2, "before copy_first, a child shares most of its heap ($before of $pages pages its own)";
        is $n, scalar(@blocks), 'copy_first copies every block (' . scalar(@blocks) . ')';
        is $after, $pages, 'afterwards all their pages are its own';
        (undef, $after, $n) = $child->("\0", 'for a call');
        is $n, scalar(@blocks), 'a child forked for a call copies every block too';
        is $after, $pages, '... and all their pages are its own';
    }
    my (undef, undef, $n) = $child->("\0");
    is $n, 0, 'a call waiting on the control socket stops it before the first block';
}

# MainConstants, in a script of its own: its main program is what counts.
my $dir = tempdir('pfitest-ending-XXXXXX', TMPDIR => 1, CLEANUP => 1);
open(my $f, '>', "$dir/script.pl") or die;
print $f <<'EOS';
use strict;
use warnings;
use POSIX ();
use Proc::Prefork::Interp::MainConstants ();
package Noisy { sub DESTROY { print "DESTROY in ${^GLOBAL_PHASE}\n" } }
our @TABLE = map { $_ * 2 } 1 .. 200_000;
my $object = bless {}, 'Noisy';
my $kept = $ARGV[0] ? Proc::Prefork::Interp::MainConstants::retain() : 0;
# The ending of a forked child, counted in page faults (read from the
# zombie's /proc entry before it is reaped).
my $pid = fork // die "fork: $!";
exit 0 unless $pid;
my $faults;
for (1 .. 1000) {
    open(my $st, '<', "/proc/$pid/stat") or last;
    my ($state, @f) = split ' ', ((<$st> // '') =~ s/\A.*\) //sr);
    if ($state eq 'Z') { $faults = $f[6]; last }
    select(undef, undef, undef, 0.01);
}
waitpid($pid, 0);
print "kept $kept faults $faults status $?\n";
EOS
close $f;
sub run_script {
    my ($retain) = @_;
    my $out = `$^X -I$FindBin::Bin/../lib $dir/script.pl $retain`;
    return $out;
}
my $without = run_script(0);
my $with = run_script(1);
my ($kept) = $with =~ /kept (\d+)/;
cmp_ok $kept, '>=', 1, "retain keeps the main program's constants ($kept)";
like $with, qr/status 0\n/, 'the child ends with status 0';
my ($f0) = $without =~ /faults (\d+)/;
my ($f1) = $with =~ /faults (\d+)/;
SKIP: {
    skip "this perl frees little at the end ($f0 page faults)", 1 unless $f0 && $f0 > 1000;
    cmp_ok $f1, '<', $f0 / 4, "the ending writes to fewer pages: $f1 page faults, not $f0";
}
# Named lexicals are left to perl: DESTROY runs where it did.
my @d0 = $without =~ /^(DESTROY in \w+)$/mg;
my @d1 = $with =~ /^(DESTROY in \w+)$/mg;
is_deeply \@d1, \@d0, "a file-scoped object's DESTROY runs as without retain (@d0)";
is scalar(@d1), 2, 'once in the child and once in the parent';

done_testing;
