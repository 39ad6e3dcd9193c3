use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PFITest;

# The pool: N idle spares wait, a call goes to one that already exists,
# and they are all gone when the server quits.
for my $spares (0, 1, 3) {
    my $t = PFITest->new(opts => "prefork_spares=$spares");
    is $t->call(args => ['noop'])->{status}, 0, "spares=$spares: call ok";
    is $t->wait_procs(1 + $spares), 1 + $spares, "spares=$spares: server plus $spares idle";
    ok $t->finish, "spares=$spares: nothing left behind";
}

for my $mode ('', 'no_pidfd') {
    my $t = PFITest->new(env => $mode ? { PFITEST_NO_PIDFD => 1 } : {});
    is $t->call(args => ['noop'])->{status}, 0, "$mode: first call ok";
    for my $i (1 .. 10) {
        $t->wait_procs(2);
        my %idle = map { $_ => 1 } $t->procs;
        my $r = $t->call(args => ['pgrp']);
        my ($g, $pid, $server) = split ' ', $r->{out} // '';
        is $r->{status}, 0, "$mode call $i: ok";
        ok $idle{$pid}, "$mode call $i: served by a spare forked before the call";
    }
    my @got = map { $t->call(args => ['exit', $_])->{status} // 'none' } 1 .. 20;
    is_deeply \@got, [map { $_ << 8 } 1 .. 20], "$mode: statuses right";
    ok $t->finish, "$mode: nothing left behind";
}

# A spare that dies is replaced.
{
    my $t = PFITest->new;
    is $t->call(args => ['noop'])->{status}, 0, 'call ok';
    is $t->wait_procs(2), 2, 'server and one spare';
    my $spare = $t->titled('spare');
    ok $spare, 'found the spare by its process title';
    kill 'KILL', $spare;
    ok defined PFITest::wait_pids_gone([$spare], 5), 'spare killed';
    is $t->call(args => ['exit', 2])->{status}, 2 << 8, 'still served';
    like $t->log_text // '', qr/^warning .*spare \[$spare\] ended unexpectedly/m, 'logged';
    ok $t->finish, 'nothing left behind';
}
done_testing;
