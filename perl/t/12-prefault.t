use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PFITest;

# A spare copies what it shares with the server as its first act
# ('prefault'), in whole 2 MB blocks: all of its heap for a server no
# larger than the budget, the blocks perl's ending writes to (those
# holding glob heads) for a larger one, at most the budget; nothing
# with prefault => 0. Checked in the spare's own memory accounting
# (/proc/PID/smaps_rollup).

-r "/proc/self/smaps_rollup"
    or plan skip_all => 'no /proc/PID/smaps_rollup (Linux 4.14 or later)';

sub rollup {
    my ($pid) = @_;
    my %kb;
    open(my $fh, '<', "/proc/$pid/smaps_rollup") or return;
    while (<$fh>) {
        $kb{$1} = $2 if /^(\w+):\s+(\d+) kB/;
    }
    return \%kb;
}

# Waits until the spare's private memory stops growing.
sub settled {
    my ($pid) = @_;
    my $last = -1;
    for (1 .. 100) {
        my $r = rollup($pid) or return;
        return $r if $r->{Private_Dirty} == $last;
        $last = $r->{Private_Dirty};
        Time::HiRes::sleep(0.1);
    }
    return rollup($pid);
}

sub start {
    my (%a) = @_;
    my $t = PFITest->new(%a);
    is $t->call(args => ['noop'])->{status}, 0, "$a{name}: call ok";
    is $t->wait_procs(2), 2, "$a{name}: server and one spare";
    my $spare = $t->titled('spare');
    ok $spare, "$a{name}: found the spare";
    return ($t, $spare);
}

my $MB = 1024;    # kB

# The whole 2 MB blocks of a process's heap, in kB.
sub heap_blocks_kb {
    my ($pid) = @_;
    open(my $maps, '<', "/proc/$pid/maps") or return 0;
    my $kb = 0;
    no warnings 'portable';
    while (<$maps>) {
        my ($start, $end) = /\A([0-9a-f]+)-([0-9a-f]+) .*\[heap\]$/ or next;
        my ($s, $e) = (hex $start, hex $end);
        $s = ($s + (2 << 20) - 1) & ~((2 << 20) - 1);
        $e &= ~((2 << 20) - 1);
        $kb += ($e - $s) >> 10 if $e > $s;
    }
    return $kb;
}

# A small server: the spare ends up with its own copy of every whole
# 2 MB block of the server's heap, in huge pages.
SKIP: {
    skip 'no transparent huge pages here', 7
        unless -e '/sys/kernel/mm/transparent_hugepage/enabled'
        && PFITest::_slurp('/sys/kernel/mm/transparent_hugepage/enabled') !~ /\[never\]/;
    my ($t, $spare) = start(name => 'small');
    my $server = $t->titled('server');
    my $s = settled($spare);
    my $blocks = heap_blocks_kb($server);
    cmp_ok $blocks, '>=', 2 * $MB, "small: the server's heap has whole 2 MB blocks ($blocks kB)";
    cmp_ok $s->{AnonHugePages} // 0, '>=', $blocks,
        'small: the spare holds a private copy of each, as a huge page'
        or diag explain { spare => $s, server => rollup($server) };
    is $t->call(args => ['exit', 3])->{status}, 3 << 8, 'small: calls still right';
    ok $t->finish, 'small: nothing left behind';
}

# A call that finds no spare (prefork_spares => 0 keeps none) gets a
# child forked for it, which copies the same blocks, all of them, before
# it serves the call: the call sees them in its own memory as huge pages.
SKIP: {
    skip 'no transparent huge pages here', 5
        unless -e '/sys/kernel/mm/transparent_hugepage/enabled'
        && PFITest::_slurp('/sys/kernel/mm/transparent_hugepage/enabled') !~ /\[never\]/;
    my $t = PFITest->new(name => 'nospare', opts => 'prefork_spares=0');
    is $t->call(args => ['noop'])->{status}, 0, 'no spare: first call ok';
    my $blocks = heap_blocks_kb($t->titled('server'));
    cmp_ok $blocks, '>=', 2 * $MB, "no spare: the server's heap has whole 2 MB blocks ($blocks kB)";
    my $r = $t->call(args => ['hugepages']);
    is $r->{status}, 0, 'no spare: a call in a child forked for it';
    # Copying is best effort, a block at a time: the kernel may decline
    # a block (no huge page free at that moment, pages it is still
    # moving), which copy_first leaves to page faults, and under a busy
    # test run it now and then declines two of three. Without the copy
    # the child holds no huge page at all (a small server keeps none).
    cmp_ok $r->{out} // 0, '>', 0,
        "no spare: that child copied blocks of the server's heap, as huge pages, before the call"
        or diag explain $r;
    ok $t->finish, 'no spare: nothing left behind';
}

# prefault => 0: the spare copies nothing in advance.
{
    # 20 MB preloaded, and no huge pages (see below), so that what the
    # server's own writes leave to the
    # spare alone (counted as the spare's private memory) stays small
    # beside it.
    my ($t, $spare) = start(name => 'off', opts => 'prefault=0;hugepages=0',
                            env => { PFITEST_HEAP_MB => 20 });
    Time::HiRes::sleep(1);
    my $s = rollup($spare);
    my $srv = rollup($t->titled('server'));
    cmp_ok $s->{Private_Dirty}, '<', 0.4 * $srv->{Anonymous},
        'off: the spare copied nothing in advance'
        or diag explain { spare => $s, server => $srv };
    ok $t->finish, 'off: nothing left behind';
}

# A server larger than the budget: the spare copies the blocks holding
# glob heads, at most the budget; not the data.
{
    # hugepages=0: the server's own huge-page collapse would copy its
    # pages and leave the spare the only holder of the old ones, which
    # smaps then counts as the spare's private memory.
    my ($t, $spare) = start(name => 'large', opts => 'prefault=8;hugepages=0',
                            env => { PFITEST_HEAP_MB => 40 });
    my $s = settled($spare);
    my $srv = rollup($t->titled('server'));
    cmp_ok $srv->{Anonymous}, '>=', 40 * $MB, 'large: the server holds its 40 MB';
    cmp_ok $s->{Private_Dirty}, '>=', 2 * $MB, 'large: the spare copied part of it';
    cmp_ok $s->{Private_Dirty}, '<=', 8 * $MB + 4 * $MB,
        'large: no more than the budget, not the whole 40 MB'
        or diag explain $s;
    is $t->call(args => ['exit', 4])->{status}, 4 << 8, 'large: calls still right';
    ok $t->finish, 'large: nothing left behind';
}

# A server larger than the budget keeps its heap in huge pages
# (hugepages, on by default), the ranges the kernel first declines
# retried once it is idle.
SKIP: {
    my $thp = PFITest::_slurp('/sys/kernel/mm/transparent_hugepage/enabled') // '';
    skip 'no transparent huge pages here', 6 if $thp eq '' || $thp =~ /\[never\]/;
    my ($t, $spare) = start(name => 'huge', opts => 'prefault=8',
                            env => { PFITEST_HEAP_MB => 40 });
    my $server = $t->titled('server');
    my $huge = 0;
    for (1 .. 100) {
        $huge = (rollup($server) // {})->{AnonHugePages} // 0;
        last if $huge >= 30 * $MB;
        Time::HiRes::sleep(0.05);
    }
    cmp_ok $huge, '>=', 30 * $MB, 'huge: the server\'s 40 MB heap is in huge pages';
    is $t->call(args => ['exit', 5])->{status}, 5 << 8, 'huge: calls still right';
    ok $t->finish, 'huge: nothing left behind';
}

done_testing;
