use strict;
use warnings;
use Test::More;
use Proc::Prefork::Interp::Memory;
no warnings "portable";    # 64-bit addresses

my $M = 'Proc::Prefork::Interp::Memory';
my $MB = 1 << 20;
my $HUGE = 2 * $MB;

my $maps = <<'MAPS';
55d0a0000000-55d0a0001000 r--p 00000000 08:01 1234 /usr/bin/perl
55d0a0200000-55d0a0203000 rw-p 00200000 08:01 1234 /usr/bin/perl
55d0a1000000-55d0a1a00000 rw-p 00000000 00:00 0 [heap]
7f0000000000-7f0000500000 rw-p 00000000 00:00 0
7f1000000000-7f1000001000 rw-s 00000000 00:05 99 /dev/shm/x
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]
7ffd000ff000-7ffd00101000 r-xp 00000000 00:00 0 [vdso]
MAPS
my @regions = $M->can('parse_maps')->($maps);
is_deeply \@regions, [
    [0x55d0a1000000, 0x55d0a1a00000, '[heap]'],
    [0x55d0a0200000, 0x55d0a0203000, '/usr/bin/perl'],
    [0x7f0000000000, 0x7f0000500000, ''],
], 'private writable mappings, heap first, no stack or shared ones';

ok $M->can('is_small')->(16, @regions), '15.something MB is small for 16';
ok !$M->can('is_small')->(15, @regions), 'but not for 15';

is_deeply [$M->can('huge_page_ranges')->(
    [3 * $MB, 11 * $MB, '[heap]'], [0, $MB, 'file'], [4 * $MB, 5 * $MB, ''])],
    [[4 * $MB, 10 * $MB]], 'whole 2 MB pages of heap and anonymous mappings only';

# What a spare copies first: the blocks holding ending pages, then (a
# small server) every other whole block; within the budget.
my $first = $M->can('first_blocks');
my @heap = ([3 * $MB, 11 * $MB, '[heap]'], [0, $MB, 'file'], [20 * $MB, 24 * $MB, '']);
my @ending = ([8 * $MB + 4096, 8 * $MB + 3 * 4096], [21 * $MB, 21 * $MB + 4096],
              [10 * $MB + 4096, 10 * $MB + 8192], [$MB / 2, $MB / 2 + 4096]);
is_deeply [$first->(1 << 30, 0, \@ending, @heap)], [8 * $MB, 20 * $MB],
    'a large server: only the blocks with ending pages, in address order';
is_deeply [$first->(1 << 30, 1, \@ending, @heap)],
    [8 * $MB, 20 * $MB, 4 * $MB, 6 * $MB, 22 * $MB],
    'a small server: those first, then every other whole block';
is_deeply [$first->(3 * $HUGE + $MB, 1, \@ending, @heap)], [8 * $MB, 20 * $MB, 4 * $MB],
    'no more than the budget';
is_deeply [$first->(1 << 30, 1, [], [3 * $MB, 4 * $MB, '[heap]'])], [],
    'a heap without a whole block: nothing';

my $outside = $M->can('outside_blocks');
is_deeply [$outside->([[2 * $MB - 4096, 2 * $MB + 8192], [7 * $MB, 7 * $MB + 4096],
                       [4 * $MB + 4096, 4 * $MB + 8192]], { 2 * $MB => 1, 4 * $MB => 1 })],
    [[2 * $MB - 4096, 2 * $MB], [7 * $MB, 7 * $MB + 4096]],
    'outside_blocks: ranges split at block edges, the copied blocks left out';
is_deeply [$outside->([[0, 8192]], {})], [[0, 8192]], 'nothing copied: every range';

done_testing;
