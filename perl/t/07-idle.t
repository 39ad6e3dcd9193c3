use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PFITest;
use Time::HiRes qw(time);

{
    my $t = PFITest->new(opts => 'idle_timeout=1');
    is $t->call(args => ['noop'])->{status}, 0, 'call ok';
    my $start = time;
    ok $t->wait_server_exit(10), 'idle server quits';
    my $took = time - $start;
    cmp_ok $took, '>', 0.8, sprintf('not before the timeout (%.2f s)', $took);
    like $t->log_text // '', qr/^info .*idle/m, 'logged';
    ok $t->finish, 'nothing left behind';
}

# A running call keeps the server up past the idle timeout.
{
    my $t = PFITest->new(opts => 'idle_timeout=1');
    my $r = $t->call(args => ['span', 2]);
    is $r->{status}, 0, 'a 2 s call outlives a 1 s idle timeout';
    ok $t->server_alive, 'server still up right after it';
    ok $t->wait_server_exit(10), 'then quits when idle';
    ok $t->finish, 'nothing left behind';
}

# A negative idle timeout never quits on its own.
{
    my $t = PFITest->new(opts => 'idle_timeout=-1');
    is $t->call(args => ['noop'])->{status}, 0, 'call ok';
    ok !$t->wait_server_exit(1.5), 'idle_timeout=-1: still running';
    ok $t->finish, 'nothing left behind';
}

done_testing;
