use strict;
use warnings;
use Test::More;
use Proc::Prefork::Interp::Autoreload;

my $newer = Proc::Prefork::Interp::Autoreload->can('newer_than');
is $newer->(100, 500_000_000, 101), 1, 'later second';
is $newer->(100, 500_000_000, 99.9), 0, 'earlier second';
is $newer->(100, 500_000_000, 100.6), 1, 'same second, later fraction';
is $newer->(100, 500_000_000, 100.5000005), 0, 'within the precision of a double: not newer';
is $newer->(100, 500_000_000, 100.4), 0, 'same second, earlier fraction';

my $parse = Proc::Prefork::Interp::Autoreload::Inotify->can('parse_events');
my $buf = pack('iIII', 1, 0x2, 0, 0)
        . pack('iIII', 7, 0x100, 0, 16) . "new.pm\0\0\0\0\0\0\0\0\0\0"
        . pack('iIII', 3, 0x8000, 0, 0)
        . 'short';
is_deeply [$parse->($buf)],
    [[1, 0x2, ''], [7, 0x100, 'new.pm'], [3, 0x8000, '']],
    'events decoded, name padding dropped, a truncated tail ignored';

# Without inotify, every file is examined before each call.
my $stat = Proc::Prefork::Interp::Autoreload::Stat->new(['a', 'b']);
is $stat->fh, undef, 'stat backend: nothing to poll';
is_deeply $stat->unwatched, ['a', 'b'], 'stat backend: every file unwatched';

done_testing;
