use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PFITest;

# Setup runs with SIGINT ignored and blocked, as a background job would.
my $t = PFITest->new(sigint => 'ignore');
is $t->setup_status, 0, 'setup ok';

sub dump_of {
    my ($text) = @_;
    my $VAR1;
    my $d = eval($text // '');
    return $d;
}

# @ARGV, %ENV and $0 are exactly what the request says.
my @args = ('argv', 'a b', '', "new\nline", 'x=y', '-e', "\x{7f}\xff", '');
my %env = (A => '1', B => 'x=y=z', EMPTY => '', 'ODD NAME' => 'v', PATH => '/bin');
my $r = $t->call(args => \@args, env => \%env);
is $r->{xdata}, 'full-argv caller-state signals extra-fds', 'greeting offers full-argv, caller-state, signals and extra-fds';
is $PFITest::LAST_XDATA_LENGTH, 40, 'xdata is just the feature text';
is $r->{status}, 0, 'argv call ok';
my $d = dump_of($r->{out});
is $d->{zero}, $t->script, '$0 is the script path from the request';
is_deeply $d->{argv}, \@args, '@ARGV is the arguments after interpreter and script';
is_deeply $d->{env}, \%env, '%ENV is exactly the request environment';

my ($sa_status, $sa_out) = PFITest::run_standalone(@args);
is_deeply dump_of($sa_out)->{argv}, \@args, 'standalone gives the same @ARGV';

$r = $t->call(args => ['argv'], env => {}, script => '/elsewhere/name.pl');
$d = dump_of($r->{out});
is $d->{zero}, '/elsewhere/name.pl', '$0 follows the request';
is_deeply $d->{argv}, ['argv'], 'one argument';
is_deeply $d->{env}, {}, 'empty environment';

# A call never sees another call's environment.
$r = $t->call(args => ['argv'], env => { ONLY => 'this' });
is_deeply dump_of($r->{out})->{env}, { ONLY => 'this' }, 'environment replaced per call';

# The caller's stdin, stdout and stderr are the executor's.
$r = $t->call(args => ['stdin'], stdin => "hello\n");
is $r->{out}, "out:hello\n", 'stdin read, stdout written';
is $r->{err}, "err:hello\n", 'stderr written';

# Only fds 0, 1 and 2, exactly like a standalone run.
my ($fd_status, $fd_sa) = PFITest::run_standalone('fds');
is $fd_sa, "0 1 2\n", 'standalone run has fds 0 1 2';
for my $i (1 .. 10) {
    $r = $t->call(args => ['fds']);
    is $r->{out}, "0 1 2\n", "call $i: executor has only fds 0 1 2";
}

# SIGINT and SIGPIPE are default and unblocked although setup ignored SIGINT.
$r = $t->call(args => ['pgrp']);
my ($pgrp, $pid, $server) = split ' ', $r->{out};
open(my $st, '<', "/proc/$server/status") or die;
my %server_sig = map { /^Sig(Ign|Blk):\s*(\S+)/ ? ($1 => hex $2) : () } <$st>;
# (The setup ignored it; the server takes it through a signalfd, blocked.)
ok(($server_sig{Ign} | $server_sig{Blk}) & (1 << 1),
   'the server itself has SIGINT ignored or blocked (test is meaningful)');
for my $i (1 .. 5) {
    $r = $t->call(args => ['sigs']);
    my ($ign) = $r->{out} =~ /SigIgn:\s*(\S+)/;
    my ($blk) = $r->{out} =~ /SigBlk:\s*(\S+)/;
    ok !(hex($ign) & ((1 << 1) | (1 << 12))), "call $i: SIGINT/SIGPIPE not ignored";
    ok !(hex($blk) & ((1 << 1) | (1 << 12))), "call $i: SIGINT/SIGPIPE not blocked";
    like $r->{out}, qr/INT=undef PIPE=undef/, "call $i: \%SIG says undef, as standalone";
}

# %SIG itself is a standalone run's: undef for every signal nothing set
# (not 'DEFAULT', which is true: `$SIG{TERM} ||= sub {...}` would then
# not install its handler), whatever the server set while serving.
my (undef, $sa_sigvals) = PFITest::run_standalone('sigvals');
like $sa_sigvals, qr/ INT=undef /, 'standalone: %SIG{INT} is undef';
for my $i (1 .. 5) {
    $r = $t->call(args => ['sigvals']);
    is $r->{out}, $sa_sigvals, "call $i: %SIG as in a standalone run";
}

# Each executor is the leader of its own process group.
my %pids;
for my $i (1 .. 10) {
    $r = $t->call(args => ['pgrp']);
    my ($g, $p, $pp) = split ' ', $r->{out};
    is $g, $p, "call $i: getpgrp == \$\$";
    isnt $g, $server, "call $i: not the server's group";
    is $pp, $server, "call $i: run by the same server";
    $pids{$p}++;
}
is scalar(keys %pids), 10, 'every call ran in a fresh process';

# rand() differs between calls although initialisation used it.
my %seen;
for my $i (1 .. 10) {
    $r = $t->call(args => ['rand']);
    $seen{$r->{out}}++;
}
is scalar(keys %seen), 10, 'ten calls, ten different rand() values';

ok $t->finish, 'nothing left behind';

# Started by a client that does not announce 'xdata' (chiark-utils'
# reads the length in host byte order), the greeting carries none, and
# the full argument layout is still stripped.
{
    my $u = PFITest->new(chiark_client => 1);
    my $r = $u->call(args => ['exit', 1]);
    is $r->{xdata}, '', 'chiark-style client: empty xdata';
    is $PFITest::LAST_XDATA_LENGTH, 0, 'chiark-style client: length 0';
    is $r->{status}, 1 << 8, 'chiark-style client: call ok';
    ok $u->finish, 'nothing left behind (chiark-style client)';
}

# With syslog in use (not the test logger) the executor still holds only
# 0, 1 and 2: the server's syslog connection is not inherited.
{
    my $s = PFITest->new(syslog => 1);
    for my $i (1 .. 3) {
        is $s->call(args => ['fds'])->{out}, "0 1 2\n", "syslog mode, call $i: fds 0 1 2";
    }
    ok $s->finish, 'nothing left behind (syslog mode)';
}
done_testing;
