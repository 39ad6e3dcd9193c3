#!/usr/bin/perl
# with-state.pl [--umask OOO] [--nice N] [--ignore SIG,...] [--block SIG,...]
#               [--seccomp] -- COMMAND...
# Runs COMMAND with that process state, as a caller of the matrix test
# (callerstate.t) would have it; limits come from prlimit(1), credentials
# from setpriv(1) in COMMAND.  --seccomp installs an allow-everything
# filter: a caller "under its own seccomp filter".
use strict;
use warnings;
use Getopt::Long qw(GetOptions);
use POSIX ();

my %o = (ignore => '', block => '');
GetOptions(\%o, 'umask=s', 'nice=i', 'ignore=s', 'block=s', 'seccomp')
    or die "with-state.pl: bad options\n";
@ARGV or die "with-state.pl: no command\n";

# perl ignores SIGFPE itself; the command must not inherit that.
$SIG{FPE} = 'DEFAULT';
umask oct $o{umask} if defined $o{umask};
if (defined $o{nice}) {
    setpriority(0, 0, $o{nice}) or die "with-state.pl: setpriority: $!\n";
}
$SIG{$_} = 'IGNORE' for grep { length } split /,/, $o{ignore};
require Config;
my %num;
@num{split ' ', $Config::Config{sig_name}} = split ' ', $Config::Config{sig_num};
my @block = map { $num{$_} // die "with-state.pl: no signal $_\n" }
    grep { length } split /,/, $o{block};
POSIX::sigprocmask(POSIX::SIG_BLOCK(), POSIX::SigSet->new(@block))
    or die "with-state.pl: sigprocmask: $!\n" if @block;
if ($o{seccomp}) {
    require 'syscall.ph';
    # one instruction: BPF_RET|BPF_K SECCOMP_RET_ALLOW
    my $insn = pack 'S C C L', 0x06, 0, 0, 0x7fff0000;
    my $prog = pack 'S x![P] P', 1, $insn;
    syscall(&SYS_prctl, 38, 1, 0, 0, 0) == 0        # PR_SET_NO_NEW_PRIVS
        or die "with-state.pl: no_new_privs: $!\n" if $> != 0;
    syscall(&SYS_prctl, 22, 2, $prog, 0, 0) == 0     # PR_SET_SECCOMP, filter
        or die "with-state.pl: seccomp: $!\n";
}
exec { $ARGV[0] } @ARGV or die "with-state.pl: exec $ARGV[0]: $!\n";
