use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PFITest;

# EOF from the watcher: quit (socket removed or replaced).
for my $order (qw(chiark design)) {
    my $t = PFITest->new(order => $order);
    is $t->call(args => ['noop'])->{status}, 0, "$order: call ok";
    ok $t->server_alive, "$order: server running";
    $t->watcher_close;
    ok $t->wait_server_exit(10), "$order: EOF from the watcher ends the server";
    like $t->log_text // '', qr/^info .*quitting/m, "$order: logged at info";
    is $t->wait_procs(0), 0, "$order: spares gone too";
    ok $t->finish, "$order: nothing left behind";
}

# Data from the watcher: log it at err and quit.
{
    my $t = PFITest->new;
    is $t->call(args => ['noop'])->{status}, 0, 'call ok';
    $t->watcher_say("something broke\n");
    ok $t->wait_server_exit(10), 'a watcher message ends the server';
    like $t->log_text // '', qr/^err .*watcher: something broke$/m, 'message logged at err';
    ok $t->finish, 'nothing left behind';
}

# A call in progress when the server is told to quit still gets its
# status; new calls are refused meanwhile.
{
    my $t = PFITest->new;
    my $r = $t->call(args => ['sleep', 1], no_wait => 1);
    ok defined PFITest::wait_for_file_content($r->{out_file}, qr/\A\d+\n/),
        'long call started';
    $t->watcher_close;
    my $deadline = time + 10;
    my $refused;
    while (time < $deadline) {
        my $s = $t->connect_sock;
        if (!$s || !defined PFITest::read_greeting($s, 1)) { $refused = 1; last }
    }
    ok $refused, 'new calls refused while draining';
    is PFITest::read_status($r->{sock}), 0, 'running call reports its status';
    ok $t->wait_server_exit(10), 'server quit after the call ended';
    ok $t->finish, 'nothing left behind';
}

done_testing;
