# SIGTERM, SIGINT and SIGHUP to the server: it stops accepting, lets its
# call finish and report, logs why, and exits; with a signalfd and with
# the fallback (a handler, looked at every quarter second).
# (tests/integration/server_signals.t drives the same through the
# client, repeatedly; this covers the fallback, which only a test can
# force.)
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PFITest;

for my $case (['signalfd', {}], ['no signalfd', { PFITEST_NO_SIGNALFD => 1 }]) {
    my ($how, $env) = @$case;
    for my $sig (qw(TERM INT HUP)) {
        my $at = "$how, SIG$sig";
        my $t = PFITest->new(env => $env);
        is $t->setup_status, 0, "$at: setup ok";
        my (undef, undef, $server) = split ' ', $t->call(args => ['pgrp'])->{out};
        my $r = $t->call(args => ['sleep', 1], no_wait => 1);
        ok PFITest::wait_for_file_content($r->{out_file}, qr/\A\d+\n/),
            "$at: a call is under way";
        kill $sig, $server;
        ok PFITest::wait_for_file_content($t->{log}, qr/SIG$sig received, quitting/),
            "$at: the server says why it quits";
        # (A connection may still land in the backlog while a child
        # forked a moment ago holds the listening socket, until it
        # closes it: it gets no greeting, only the end, which our
        # client takes for a stale server.)
        my $late = $t->call_sock;
        ok !defined $late || !defined PFITest::read_greeting($late),
            "$at: and greets no more calls";
        is PFITest::read_status($r->{sock}), 0, "$at: the call under way reports its status";
        ok $t->wait_server_exit(10), "$at: then the server exits";
        ok $t->finish, "$at: nothing left behind";
    }
}

done_testing;
