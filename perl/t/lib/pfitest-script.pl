#!/usr/bin/perl
# Script served by the tests. Options for prefork_initialisation_complete
# come from PFITEST_OPTS ("key=value;key=value"); the first argument of
# each call says what the per-call part does.
use strict;
use warnings;
use Data::Dumper;
use POSIX ();
use Time::HiRes ();
# An END block compiled before the module's: with fast_exit too it runs.
END { print "early END\n" if ($ARGV[0] // '') eq 'ending' }
use Proc::Prefork::Interp;

my %opts;
for my $item (split /;/, $ENV{PFITEST_OPTS} // '') {
    my ($k, $v) = split /=/, $item, 2;
    $opts{$k} = $k eq 'autoreload_extra' ? [split /,/, $v] : $v;
}
if (defined(my $log = $ENV{PFITEST_LOG})) {
    $opts{logger} = sub {
        my ($priority, $message) = @_;
        open(my $fh, '>>', $log) or return;
        print $fh "$priority $message\n";
        close $fh;
    };
}
if (my $module = $ENV{PFITEST_USE}) {
    eval "require $module; 1" or die $@;
}
# Forces the fallbacks used where pidfd_open or inotify is missing ...
if ($ENV{PFITEST_NO_PIDFD}) {
    undef $Proc::Prefork::Interp::Linux::SYS_pidfd_open;
}
if ($ENV{PFITEST_NO_INOTIFY}) {
    undef $Proc::Prefork::Interp::Linux::SYS_inotify_init1;
}
# ... and where signalfd is missing (stops then found by polling).
if ($ENV{PFITEST_NO_SIGNALFD}) {
    undef $Proc::Prefork::Interp::Linux::SYS_signalfd4;
}
prefork_autoreload_also_check(split /:/, $ENV{PFITEST_ALSO})
    if $ENV{PFITEST_ALSO};
# Preloaded data of about PFITEST_HEAP_MB megabytes (1000-byte strings).
our @preloaded;
push @preloaded, 'x' x 1000 for 1 .. 1000 * ($ENV{PFITEST_HEAP_MB} // 0);

# A file the initialisation holds open (as a script's log or config
# file): its fd number is the script's in every call.
our $held;
if (defined $ENV{PFITEST_HOLD}) {
    open($held, '<', $ENV{PFITEST_HOLD}) or die "$ENV{PFITEST_HOLD}: $!";
}

# A handler of the initialisation that reports what the call's fd 9 is
# when a SIGUSR1 reaches it, and ends the call.
if (defined(my $mark = $ENV{PFITEST_USR1_MARK})) {
    $SIG{USR1} = sub {
        my $fd9 = readlink('/proc/self/fd/9') // 'closed';
        open(my $fh, '>', $mark) or POSIX::_exit(3);
        print $fh "$fd9\n";
        close $fh;
        POSIX::_exit(7);
    };
}

# Uses the generator during initialisation, so that every call would
# inherit the same state unless it is reseeded.
my $warmup = rand();

prefork_initialisation_complete(%opts);

$| = 1;
my $cmd = $ARGV[0] // 'noop';

if ($cmd eq 'argv') {
    local $Data::Dumper::Useqq    = 1;
    local $Data::Dumper::Sortkeys = 1;
    local $Data::Dumper::Indent   = 1;
    print Dumper({ zero => $0, argv => [@ARGV], env => {%ENV} });
} elsif ($cmd eq 'exit') {
    exit $ARGV[1];
} elsif ($cmd eq 'die') {
    die "dying as asked\n";
} elsif ($cmd eq 'signal') {
    $SIG{$ARGV[1]} = 'DEFAULT';
    kill $ARGV[1], $$;
    sleep 10;
    exit 99;
} elsif ($cmd eq 'fds') {
    opendir(my $dh, "/proc/self/fd") or die "opendir: $!";
    my @fds = sort { $a <=> $b } grep {
        /\A[0-9]+\z/ && (readlink("/proc/self/fd/$_") // '') !~ m{\A/proc/}
    } readdir $dh;
    print "@fds\n";
} elsif ($cmd eq 'fdinfo') {
    # Every open fd (but the listing's own): "N TARGET cloexec|inherit".
    opendir(my $dh, "/proc/self/fd") or die "opendir: $!";
    my @fds = sort { $a <=> $b } grep { /\A[0-9]+\z/ } readdir $dh;
    closedir $dh;
    for my $fd (@fds) {
        my $target = readlink("/proc/self/fd/$fd") // next;     # the listing's
        open(my $info, '<', "/proc/self/fdinfo/$fd") or next;
        # The flags field is octal; O_CLOEXEC is 02000000.
        my ($f) = map { /\Aflags:\s*([0-7]+)/ ? $1 : () } <$info>;
        close $info;
        printf "%d %s %s\n", $fd, $target,
            defined $f && oct($f) & 02000000 ? 'cloexec' : 'inherit';
    }
} elsif ($cmd eq 'sigs') {
    open(my $st, '<', '/proc/self/status') or die;
    print grep { /\ASig(Ign|Blk):/ } <$st>;
    printf "INT=%s PIPE=%s\n", $SIG{INT} // 'undef', $SIG{PIPE} // 'undef';
} elsif ($cmd eq 'sigvals') {
    # What %SIG says of every signal perl knows (undef, as in a
    # standalone run, where nothing set it).
    print join(' ', map { "$_=" . ($SIG{$_} // 'undef') }
                    grep { !/^__/ } sort keys %SIG), "\n";
} elsif ($cmd eq 'state') {
    open(my $st, '<', '/proc/self/status') or die;
    my %f = map { /\A(\w+):\s*(.*?)\s*\z/ ? ($1, $2) : () } <$st>;
    my $nofile = `sh -c 'ulimit -Sn; ulimit -Hn'`;
    $nofile =~ s/\n/:/;
    chomp $nofile;
    printf "umask=%04o nice=%d nofile=%s ign=%s blk=%s\n", umask, getpriority(0, 0),
        $nofile, $f{SigIgn}, $f{SigBlk};
} elsif ($cmd eq 'pgrp') {
    printf "%d %d %d\n", getpgrp(), $$, getppid();
} elsif ($cmd eq 'rand') {
    print rand(), "\n";
} elsif ($cmd eq 'stdin') {
    local $/;
    my $in = <STDIN>;
    print STDOUT "out:$in";
    print STDERR "err:$in";
} elsif ($cmd eq 'sleep') {
    print "$$\n";
    sleep $ARGV[1];
} elsif ($cmd eq 'intmark') {
    # Says whether SIGINT is what ended it: the handler writes a mark.
    my $mark = $ARGV[1];
    $SIG{INT} = sub {
        open(my $fh, '>', $mark) or POSIX::_exit(3);
        print $fh "INT\n";
        close $fh;
        POSIX::_exit(0);
    };
    print "$$\n";
    sleep 60;
} elsif ($cmd eq 'ignint') {
    # The whole group must go even though it ignores SIGINT.
    $SIG{INT} = 'IGNORE';
    my $child = fork // die "fork: $!";
    if (!$child) {
        sleep 60;
        POSIX::_exit(0);
    }
    print "$$ $child\n";
    sleep 60;
} elsif ($cmd eq 'span') {
    my $start = Time::HiRes::time();
    Time::HiRes::sleep($ARGV[1]);
    printf "%.6f %.6f\n", $start, Time::HiRes::time();
} elsif ($cmd eq 'ending') {
    # How a call ends (fast_exit): buffered output on STDOUT and on a
    # lexical handle left open, an END block compiled during the call,
    # an object alive at the end; ARGV: file for the lexical handle,
    # exit status, status an END block sets instead (optional).
    $| = 0;
    print "buffered\n";
    open(my $fh, '>', $ARGV[1]) or die "open $ARGV[1]: $!";
    print $fh "lexical\n";
    our $keep_open = $fh;
    our $object = bless {}, 'PFITestEnding';
    my $override = $ARGV[3];
    eval 'END { print "call END\n"; $? = $override if defined $override } 1' or die $@;
    exit $ARGV[2];
} elsif ($cmd eq 'hugepages') {
    # This process's memory held in huge pages, in kB.
    open(my $r, '<', '/proc/self/smaps_rollup') or die "smaps_rollup: $!";
    my ($kb) = map { /\AAnonHugePages:\s+(\d+) kB/ ? $1 : () } <$r>;
    print $kb // 0, "\n";
} elsif ($cmd eq 'noop') {
    print "ok\n";
} else {
    die "unknown command $cmd\n";
}
exit 0;

package PFITestEnding;
sub DESTROY { print "DESTROY\n" }
