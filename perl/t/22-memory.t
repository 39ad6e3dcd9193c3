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

my $plan = $M->can('prefault_plan');
# Small regions first, then the heap, then large anonymous mappings.
my @r = ([100 * $MB, 120 * $MB, '[heap]'], [0, 4096, 'lib'],
         [200 * $MB, 210 * $MB, ''], [300 * $MB, 300 * $MB + 8192, '']);
is_deeply [$plan->(1 << 30, @r)],
    [[0, 4096], [300 * $MB, 300 * $MB + 8192], [100 * $MB, 120 * $MB],
     [200 * $MB, 210 * $MB]], 'enough budget: everything, in order';
is_deeply [$plan->(12288 + 8 * $MB, @r)],
    [[0, 4096], [300 * $MB, 300 * $MB + 8192],
     [100 * $MB, 104 * $MB], [116 * $MB, 120 * $MB]],
    'a region too large: its start and end, half each, in whole huge pages';
is_deeply [$plan->(12288 + 1 * $MB, @r)],
    [[0, 4096], [300 * $MB, 300 * $MB + 8192],
     [100 * $MB, 100 * $MB + $MB / 2], [120 * $MB - $MB / 2, 120 * $MB]],
    'less than two huge pages left: halves in 4 kB pages';
is_deeply [$plan->(4095, @r)], [], 'less than a page: nothing';

my $cpus = Proc::Prefork::Interp::Linux->can('cpus_allowed');
is $cpus->("Name:\tx\nCpus_allowed_list:\t0-3,8,10-11\n"), 7, 'CPUs allowed: ranges and singles';
is $cpus->("Cpus_allowed_list:\t5\n"), 1, 'one CPU';
is $cpus->("Name:\tx\n"), 1, 'no list: 1';
is $cpus->("Cpus_allowed_list:\tgarbage\n"), 1, 'unreadable list: 1';
cmp_ok $cpus->(), '>=', 1, 'this process: at least one';

done_testing;
