# The server's title: the script, then the calls taken ("N calls", the
# form prefork-interp --list reads), never anything else.
use strict;
use warnings;
use Test::More;
use Proc::Prefork::Interp::Title;

is(Proc::Prefork::Interp::Title::server('/srv/x.pl', 0), '/srv/x.pl [prefork server]',
   'no calls yet: script and role only');
is(Proc::Prefork::Interp::Title::server('/srv/x.pl', undef), '/srv/x.pl [prefork server]',
   'count not started: the same');
is(Proc::Prefork::Interp::Title::server('./x.pl', 1), './x.pl [prefork server] 1 call', 'one call');
is(Proc::Prefork::Interp::Title::server('./x.pl', 12), './x.pl [prefork server] 12 calls', 'twelve calls');
done_testing;
