use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PFITest;
use Proc::Prefork::Interp;

# Malformed values croak in the setup, naming the variable and the fault.
pipe(my $r, my $w) or die;
pipe(my $r2, my $w2) or die;
my ($a, $b, $c, $d) = map { fileno $_ } $r, $w, $r2, $w2;
my @bad = (
    ['',                                 qr/at least two/],
    ['v1,1.0',                           qr/at least two/],
    ["v2,1.000000000 $a,$b,$c,$d",       qr/v1/],
    ["v1 $a,$b,$c,$d",                   qr/v1/],
    ["v1,yesterday $a,$b,$c,$d",         qr/SECS\.NSECS/],
    ["v1,1.000000000 $a,$b,$c",          qr/four/],
    ["v1,1.000000000 $a,x,$c,$d",        qr/"x" is not an fd/],
    ["v1,1.000000000 $a,$a,$c,$d",       qr/listed twice/],
    ["v1,1.000000000 $a,1,$c,$d",        qr/standard stream/],
    ["v1,1.000000000 $a,$b,$c,999",      qr/fd 999 is not open/],
    ["v1,1.000000000  $a,$b,$c,$d",      qr/four|not an fd/],
);
for my $case (@bad) {
    my ($value, $re) = @$case;
    local $ENV{PREFORK_INTERP} = $value;
    my $pid = $$;
    my $ok = eval { prefork_initialisation_complete(); 1 };
    is $$, $pid, "no fork for '$value'";
    ok !$ok, "croaks for '$value'";
    like $@, qr/PREFORK_INTERP/, "message names the variable ('$value')";
    like $@, $re, "message says what is wrong ('$value')";
}

{
    local $ENV{PREFORK_INTERP} = "v1,1.000000000 $a,$b,$c,$d";
    ok !eval { prefork_initialisation_complete(no_such_option => 1); 1 },
        'unknown option croaks';
    like $@, qr/unknown option 'no_such_option'/, 'and names it';
}

# Through a real setup process: a bad value fails the setup, with stderr.
my $t = PFITest->new(env_value => 'v1,1.000000000 3,4');
isnt $t->setup_status, 0, 'setup fails on a malformed value';
like $t->setup_err, qr/malformed PREFORK_INTERP/, 'and says so on stderr';
ok $t->finish, 'nothing left behind';

# Extra items and words are ignored; either watcher-fd order works.
for my $order (qw(chiark design)) {
    my $t = PFITest->new(order => $order, extra => 1);
    is $t->setup_status, 0, "$order order: setup ok";
    is $t->call(args => ['noop'])->{status}, 0, "$order order: call ok";
    $t->watcher_close;
    ok $t->wait_server_exit(10), "$order order: EOF from watcher ends the server";
    ok $t->finish, "$order order: nothing left behind";
}

done_testing;
