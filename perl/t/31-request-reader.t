# Proc::Prefork::Interp::RequestReader: the request decoded as it
# arrives, with the limits of src/protocol.c, refused as soon as a fault
# arrives, and the same result whatever the chunking.
use strict;
use warnings;
use Test::More;
use Proc::Prefork::Interp::RequestReader ();

my $R = 'Proc::Prefork::Interp::RequestReader';
sub req { my $b = join '', map { "$_\0" } @_; return pack('N', length $b) . $b }

# Feeds $bytes in chunks of $size; returns the reader and the first error.
sub feed_all {
    my ($bytes, $size) = @_;
    my $r = $R->new;
    my $err;
    while (length $bytes && $r->wanted) {
        my $n = $size < $r->wanted ? $size : $r->wanted;
        $err = $r->feed(substr $bytes, 0, $n, '') and last;
    }
    return ($r, $err, length $bytes);
}

my $good = req('A=1', 'B=x=y', '', 'perl', 'script', '', 'arg two');
for my $size (1, 3, 7, length $good) {
    my ($r, $err, $left) = feed_all($good, $size);
    ok(!defined $err && $r->wanted == 0 && !$left, "good request in chunks of $size: complete");
    my ($env, $args, $why) = $r->request;
    is_deeply([$env, $args, $why], [{ A => '1', B => 'x=y' }, ['perl', 'script', '', 'arg two'], undef],
              "chunks of $size: environment and arguments");
}
{
    # As perl's start-up builds %ENV: first value of a name, no empty name.
    my ($r) = feed_all(req('D=first', '=empty name', 'D=second', 'E=', '', 'p', 's'), 100);
    my ($env) = $r->request;
    is_deeply($env, { D => 'first', E => '' }, 'request: first value of a name twice, empty name skipped');
}
{
    my $r = $R->new;
    is($r->wanted, 4, 'a new reader wants the length field');
    $r->feed(pack 'N', 10);
    is($r->wanted, 10, 'then the body');
    $r->feed("A=1\0");
    is($r->wanted, 6, 'and counts down');
}
{
    my ($r) = feed_all(req('', 'x'), 100);
    my ($entries, $args) = $r->strings;
    is_deeply([$entries, $args], [[], ['x']], 'strings: wire-level lists');
    ($r) = feed_all(req('', 'x'), 100);
    like($r->call_fault, qr/^request has 1 argument strings; interpreter and script are required$/,
         'call_fault: interpreter and script required');
    my (undef, undef, $why) = $r->request;
    is($why, $r->call_fault, 'request says the same');
    ($r) = feed_all(req('A=1', '', 'perl', 's'), 100);
    is($r->call_fault, undef, 'call_fault: none with both');
}

my $MAX = Proc::Prefork::Interp::RequestReader::MAX_REQUEST;
my @bad = (
    [pack('N', $MAX + 1), qr/^request length \d+ exceeds $MAX$/, 'length over the cap'],
    [pack('N', 0xffffffff), qr/^request length 4294967295 exceeds/, 'huge length'],
    [pack('N', 0), qr/^request is empty$/, 'empty body'],
    [pack('N', 5) . "A=1\0x", qr/^request does not end with NUL$/, 'no final NUL'],
    [req('A=1', 'B=2'), qr/^request has no end of environment$/, 'no end of environment'],
    [req('A=1', 'NOEQ', '', 'p', 's'), qr/^environment entry without "="$/, 'entry without ='],
);
for my $case (@bad) {
    my ($bytes, $want, $what) = @$case;
    for my $size (1, 1 << 16) {
        my ($r, $err) = feed_all($bytes, $size);
        like($err // '', $want, "$what (chunks of $size): refused");
        is($r->wanted, 0, "$what (chunks of $size): wants nothing more");
    }
}

# Refused as soon as the fault arrives, not when the request is complete.
{
    my $r = $R->new;
    $r->feed(pack 'N', 1 << 20);
    like($r->feed("NOEQ\0") // '', qr/without "="/, 'a bad entry is refused when it arrives');
    is($r->wanted, 0, 'and the rest of a 1 MiB request is not waited for');
}

# At most MAX_STRINGS entries and arguments.
my $CAP = Proc::Prefork::Interp::RequestReader::MAX_STRINGS;
{
    my $ok = pack('N', $CAP + 1) . "\0" x ($CAP + 1);
    my ($r, $err) = feed_all($ok, 65536);
    ok(!defined $err, "$CAP empty arguments: accepted");
    my $over = pack('N', 4 << 20) . "\0" x ($CAP + 2);
    ($r, $err, my $left) = feed_all($over, 65536);
    like($err // '', qr/^request has more than $CAP strings$/, 'one more: refused');
    ok($left > 0 || $r->wanted == 0, 'as soon as it arrives, before the rest of the request');
}

is($R->new->feed(pack('N', 1) . "\0\0"), 'more bytes fed than the request holds', 'feeding past the request is an error');
{
    my $r = $R->new;
    is($r->feed($good), undef, 'the whole request at once');
    is($r->wanted, 0, 'is complete');
}
{
    # A byte at a time (the executor feeds what each read gives): the
    # search for each string's end resumes where it stopped.
    my $body = "LONG=" . ('v' x 300) . "\0A=1\0\0interp\0script\0" . ('a' x 200) . "\0";
    my $r = $R->new;
    my $err;
    $err //= $r->feed($_) for split //, pack('N', length $body) . $body;
    ok(!defined $err && $r->wanted == 0, 'fed a byte at a time: accepted');
    my ($env, $args) = $r->strings;
    is_deeply([$env, $args], [['LONG=' . ('v' x 300), 'A=1'], ['interp', 'script', 'a' x 200]],
              'fed a byte at a time: the same strings');
    my $bad = $R->new;
    $err = undef;
    $err //= $bad->feed($_) for split //, pack('N', 1000) . "A=1\0NOEQUALS\0";
    is($err, 'environment entry without "="', 'a byte at a time: a fault is refused when it arrives');
}

done_testing();
