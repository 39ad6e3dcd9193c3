# A call runs with its own caller's credentials and process state, never
# with those of whoever started the server (SECURITY.md, "Caller's
# state and credentials"; issue 12).
#
# The matrix: for every attribute (rows) and every way the server was
# started (columns: by a caller like this one but with defaults, by a
# deliberately different caller, and under one -g name), a probe
# script's report through prefork-interp must equal the report of the
# same caller running `perl probe.pl` directly (PFI_LANG=python: the
# probe is probe.py, run by `python3 probe.py`; tests/meson.build runs
# both).  Callers and starters
# are real users (pfi12a, made with useradd) with setpriv(1) for groups,
# capabilities, no-new-privs and securebits, prlimit(1) for limits and
# with-state.pl for umask, niceness, signal sets and a seccomp filter.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../lib";
use File::Copy qw(copy);
use File::Path qw(make_path remove_tree);
use PFIHarness;
use POSIX ();
use Test::More;

need_root();
for my $tool (qw(setpriv prlimit useradd groupadd)) {
    plan skip_all => "needs $tool (Debian util-linux / passwd)"
        unless grep { -x "$_/$tool" } split /:/, "$ENV{PATH}:/usr/sbin:/sbin";
}
$ENV{PATH} .= ':/usr/sbin:/sbin';

# The users and group of this test (prefix pfi12: issue 12).
my ($USER, $GROUP) = ('pfi12a', 'pfi12g');
system('groupadd', $GROUP) unless getgrnam $GROUP;
system('useradd', '-M', '-N', '-g', 'nogroup', '-s', '/usr/sbin/nologin',
       '-d', '/nonexistent', $USER) unless getpwnam $USER;
my $uid = getpwnam $USER;
my $gid = getgrnam $GROUP;
plan skip_all => "could not create user $USER and group $GROUP"
    unless defined $uid && defined $gid;

# Everything the second user runs or reads must be reachable by it:
# the client, the module and the probe are copied under /run.
my $base = "/run/pfi12-callerstate-$$";
remove_tree($base);
make_path("$base/lib", { mode => 0755 });
chmod 0755, $base;
system('cp', '-a', perl_lib() . '/.', "$base/lib") == 0 or die "cp lib";
system('chmod', '-R', 'a+rX', "$base/lib") == 0 or die;
my $lang = script_lang();
if ($lang eq 'python') {
    make_path("$base/pylib", { mode => 0755 });
    system('cp', '-a', python_lib() . '/prefork_interp', "$base/pylib") == 0
        or die "cp python lib";
    system('chmod', '-R', 'a+rX', "$base/pylib") == 0 or die;
}
my $client = "$base/prefork-interp";
copy(client_path(), $client) or die "copy client: $!";
chmod 0755, $client;
my $wrapper = "$FindBin::Bin/with-state.pl";
copy($wrapper, "$base/with-state.pl") or die;
chmod 0755, "$base/with-state.pl";
$wrapper = "$base/with-state.pl";
mkdir "$base/tmp" or die;
chmod 01777, "$base/tmp";     # every caller creates its file here
my %run;
for my $who ('root', $USER) {
    $run{$who} = "$base/run-$who";
    mkdir $run{$who}, 0700 or die;
    chown(($who eq 'root' ? 0 : $uid), 0, $run{$who}) or die;
}
open my $sec, '>', "$base/secret" or die;
print $sec "only $GROUP may read this\n";
close $sec;
chown 0, $gid, "$base/secret";
chmod 0640, "$base/secret";

my $probe = $lang eq 'python' ? "$base/probe.py" : "$base/probe.pl";
open my $pf, '>', $probe or die;
print $pf $lang eq 'python' ? <<'EOS' : <<'EOS';
import ctypes, os, re, sys
import prefork_interp
init_pid = os.getpid()
prefork_interp.initialisation_complete()
# A standalone run is the process that started; a call is an executor.
served = os.getpid() != init_pid
print(f"served={int(served)}")
print(f"server={os.getppid() if served else 0}")
mask = os.umask(0)
os.umask(mask)
print(f"umask={mask:04o}\nnice={os.getpriority(os.PRIO_PROCESS, 0)}")
with open("/proc/self/limits") as lim:
    next(lim)
    for line in lim:
        m = re.match(r"(.+?)\s{2,}(\S+)\s+(\S+)", line)
        if m:
            print(f"limit {m[1]}={m[2]}:{m[3]}")
with open("/proc/self/status") as st:
    for line in st:
        m = re.match(r"(SigIgn|SigBlk|Uid|Gid|Groups|Cap\w+|NoNewPrivs|Seccomp\w*|Cpus_allowed_list):\s*(.*?)\s*$", line)
        if m:
            print(f"{m[1]}={m[2]}")
for ns in sorted(os.listdir("/proc/self/ns")):
    print(f"ns {ns}={os.readlink('/proc/self/ns/' + ns)}")
with open("/proc/self/cgroup") as cg:
    print("cgroup=" + ";".join(cg.read().split("\n")))
for name in ("oom_score_adj", "timerslack_ns", "personality", "attr/current"):
    try:
        with open("/proc/self/" + name) as f:
            print(f"{name}={f.read().strip()}")
    except OSError as e:
        print(f"{name}={e.strerror}")
with open("/proc/self/stat") as f:
    stat = f.read().rsplit(")", 1)[1].split()
print(f"rt_priority={stat[37]}\npolicy={stat[38]}")
import subprocess
print("ioprio=" + subprocess.run(["ionice", "-p", str(os.getpid())], capture_output=True,
                                 text=True).stdout.strip())
libc = ctypes.CDLL(None, use_errno=True)
print(f"securebits={libc.prctl(27, 0, 0, 0, 0)}")      # PR_GET_SECUREBITS
try:
    with open(sys.argv[1]) as f:
        print("secret=" + f.readline(), end="")
except OSError as e:
    print("secret=" + e.strerror)
with open(sys.argv[2], "w") as new:
    print(f"new file mode={os.stat(sys.argv[2]).st_mode & 0o7777:04o}")
os.unlink(sys.argv[2])
EOS
use strict;
use warnings;
use Proc::Prefork::Interp;
our $init_pid = $$;
prefork_initialisation_complete();
# A standalone run is the process that started; a call is an executor.
print 'served=', ($$ == $init_pid ? 0 : 1), "\n";
print 'server=', ($$ == $init_pid ? 0 : getppid), "\n";
printf "umask=%04o\nnice=%d\n", umask, getpriority(0, 0);
open my $lim, '<', '/proc/self/limits' or die;
<$lim>;
while (<$lim>) {
    my ($what, $soft, $hard) = /^(.+?)\s{2,}(\S+)\s+(\S+)/ or next;
    print "limit $what=$soft:$hard\n";
}
open my $st, '<', '/proc/self/status' or die;
while (<$st>) {
    print "$1=$2\n" if /^(SigIgn|SigBlk|Uid|Gid|Groups|Cap\w+|NoNewPrivs|Seccomp\w*|Cpus_allowed_list):\s*(.*?)\s*$/;
}
opendir my $nsd, '/proc/self/ns' or die;
print "ns $_=", readlink("/proc/self/ns/$_"), "\n" for sort grep { !/^\./ } readdir $nsd;
open my $cg, '<', '/proc/self/cgroup' or die;
print 'cgroup=', join(';', split /\n/, do { local $/; <$cg> }, -1), "\n";
for my $name (qw(oom_score_adj timerslack_ns personality attr/current)) {
    my $f;
    my $v = open($f, '<', "/proc/self/$name") ? <$f> : undef;
    $v = "$!" unless defined $v;
    $v =~ s/\A\s+|\s+\z//g;
    print "$name=$v\n";
}
open my $stat, '<', '/proc/self/stat' or die;
my @stat = split ' ', (split /\)/, scalar <$stat>)[-1];
print "rt_priority=$stat[37]\npolicy=$stat[38]\n";
my $io = `ionice -p $$`;
$io =~ s/\A\s+|\s+\z//g;
print "ioprio=$io\n";
# prctl(PR_GET_SECUREBITS); syscall.ph went to the module's package
require Config;
my ($arch) = $Config::Config{archname} =~ /\A([^-]+)/;
my $prctl = { x86_64 => 157, aarch64 => 167, i686 => 172 }->{$arch};
print 'securebits=', (defined $prctl ? syscall($prctl, 27, 0, 0, 0, 0) : "unknown arch $arch"), "\n";
my $secret;
print 'secret=', (open($secret, '<', $ARGV[0]) ? scalar <$secret> : "$!\n");
open my $new, '>', "$ARGV[1]" or die "$ARGV[1]: $!";
printf "new file mode=%04o\n", (stat $new)[2] & 07777;
unlink $ARGV[1];
EOS
close $pf;
chmod 0644, $probe;
note "script language $lang: the probe is $probe";

# A caller: who it is and how it differs from a plain process of its user.
#   setpriv => [...]     credentials beyond uid/gid
#   limits  => [...]     prlimit(1) options
#   state   => [...]     with-state.pl options
#   pre     => [...]     a command that runs the rest in another place
#                        (taskset, chrt, ionice, choom, nsenter, a cgroup)
sub command {
    my ($c, @cmd) = @_;
    my @priv = $c->{user} eq 'root' ? ('--keep-groups')
             : ("--reuid=$USER", '--regid=nogroup');
    push @priv, '--clear-groups' unless grep { /groups/ } @{$c->{setpriv} // []}, @priv;
    return [@{$c->{pre} // []}, $wrapper, @{$c->{state} // []}, '--',
            'prlimit', @{$c->{limits} // []},
            'setpriv', @priv, @{$c->{setpriv} // []}, @cmd];
}

my $n = 0;
# The probe through the client, or (with $standalone) run directly.
sub probe_run {
    my ($c, $how, $standalone) = @_;
    my @run = $standalone ? (interpreter(), $probe)
            : ($client, @{$how->{g} ? ['-g', $how->{g}] : []}, '-U', interpreter(), $probe);
    my $file = "$base/tmp/new-" . $n++;
    my $r = run_call(command($c, @run, "$base/secret", $file),
        dir => $base,
        env => { PERL5LIB => "$base/lib", PREFORK_INTERP_RUN_DIR => $run{$c->{user}},
                 $lang eq 'python' ? (PYTHONPATH => "$base/pylib",
                                      PYTHONDONTWRITEBYTECODE => 1) : () });
    return $r;
}

sub report_of {
    my ($r) = @_;
    my %rep = map { /^([^=]+)=(.*)$/ ? ($1, $2) : () } split /\n/, $r->{out};
    return \%rep;
}

sub stop_servers {
    # The client keeps its sockets in its own subdirectory of an
    # overridden run directory (run_subdir).
    for my $who (keys %run) {
        my $dir = run_subdir($run{$who}, $who eq 'root' ? 0 : $uid);
        opendir my $d, $dir or next;
        unlink map { "$dir/$_" } grep { /^s/ } readdir $d;
    }
    wait_processes_gone($probe, 10);
}

my $plain_root = { user => 'root' };
my $plain_user = { user => $USER };
my @all_limits = map { "--$_=" } qw(core cpu data fsize memlock msgqueue nice
    nofile nproc rss rtprio rttime sigpending stack as locks);
my %soft = (core => 1000, cpu => 300, data => 3000000000, fsize => 50000000,
            memlock => 4096, msgqueue => 8192, nice => 0, nofile => 200,
            nproc => 500, rss => 90000000, rtprio => 0, rttime => 10000000,
            sigpending => 300, stack => 4000000, as => 6000000000,
            locks => 300);
my @caller_soft = map { "--$_=$soft{$_}:" } sort keys %soft;
my @starter_soft = map { "--$_=" . int($soft{$_} / 2) . ':' } sort keys %soft;

# Where a caller can run apart from its user's other processes: a
# network namespace of its own and a control group of its own (both
# need root to make; rows without them are left out, saying why).
my (@place_rows, @place_skips);
my $netns = "$base/netns";
if (open(my $nf, '>', $netns) && system('unshare', "--net=$netns", 'true') == 0) {
    push @place_rows, ['network namespace',
        { user => $USER, pre => ['nsenter', "--net=$netns"] }, { user => $USER }, 0];
} else {
    push @place_skips, "a network namespace (cannot make $netns or unshare --net onto it)";
    undef $netns;
}
my $cgroup;
END {
    system('umount', $netns) if $netns && -e $netns;
    rmdir $cgroup if $cgroup;
}
for my $hier ('/sys/fs/cgroup', '/sys/fs/cgroup/pids', '/sys/fs/cgroup/unified') {
    next unless -e "$hier/cgroup.procs";
    # A new group under the hierarchy's root: a leaf, which cgroup v2
    # requires of a group that holds processes.
    my $dir = "$hier/pfi-callerstate-$$";
    if (mkdir $dir) {
        $cgroup = $dir;
        last;
    }
}
if ($cgroup) {
    my $into = ['sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', $cgroup];
    push @place_rows, ['control group', { user => $USER, pre => $into }, { user => $USER }, 0];
} else {
    push @place_skips, 'a control group (no writable cgroup hierarchy)';
}

# Rows: [attribute, the caller, a deliberately different starter, does
# the starter's server serve this caller (else it gets its own)].
my @rows = (
    ['umask', { user => $USER, state => ['--umask', '027'] },
              { user => $USER, state => ['--umask', '000'] }, 1],
    ['every resource limit (soft)', { user => $USER, limits => \@caller_soft },
              { user => $USER, limits => \@starter_soft }, 1],
    ['a lower hard limit', { user => $USER, limits => ['--nofile=100:150', '--core=0:0'] },
              { user => $USER, limits => ['--nofile=64:64'] }, 0],
    ['ignored signals', { user => $USER, state => ['--ignore', 'HUP,USR2,NUM40'] },
              { user => $USER, state => ['--ignore', 'TERM,INT,QUIT,PIPE'] }, 1],
    # SIGCHLD ignored: the client must still see its setup end (the
    # starter starts the server), and perl resets it at start-up where
    # python keeps it
    ['ignored SIGCHLD', { user => $USER, state => ['--ignore', 'CHLD'] },
              { user => $USER, state => ['--ignore', 'CHLD,HUP'] }, 1],
    # the server unblocks SIGCHLD in its children: a caller's block stays,
    # also when the server's own starter blocked it (the same mask)
    ['blocked SIGCHLD', { user => $USER, state => ['--block', 'CHLD'] },
              { user => $USER, state => ['--block', 'CHLD'] }, 1],
    ['blocked signals', { user => $USER, state => ['--block', 'USR1,WINCH,NUM50'] },
              { user => $USER, state => ['--block', 'HUP,INT,TERM'] }, 1],
    ['niceness', { user => $USER, state => ['--nice', '7'] },
              { user => $USER, state => ['--nice', '3'] }, 0],
    ['supplementary groups (without)', { user => $USER },
              { user => $USER, setpriv => ["--groups=$GROUP"] }, 0],
    ['supplementary groups (with)', { user => $USER, setpriv => ["--groups=$GROUP"] },
              { user => $USER }, 0],
    ['capabilities (none)', { user => $USER },
              { user => $USER, setpriv => ['--inh-caps=+dac_read_search',
                                           '--ambient-caps=+dac_read_search'] }, 0],
    ['ambient capabilities', { user => $USER, setpriv => ['--inh-caps=+dac_read_search',
                                                           '--ambient-caps=+dac_read_search'] },
              { user => $USER }, 0],
    ['bounding set', { user => 'root', setpriv => ['--bounding-set=-dac_read_search'] },
              $plain_root, 0],
    ['no-new-privs', { user => $USER, setpriv => ['--no-new-privs'] },
              { user => $USER }, 0],
    ['no-new-privs (starter has it)', { user => $USER },
              { user => $USER, setpriv => ['--no-new-privs'] }, 0],
    ['securebits', { user => 'root', setpriv => ['--securebits=+noroot'] },
              $plain_root, 0],
    ['seccomp filter', { user => $USER, state => ['--seccomp'] },
              { user => $USER }, 'direct'],
    ['CPU affinity', { user => $USER, pre => ['taskset', '-c', '0'] },
              { user => $USER }, 0],
    ['scheduling policy', { user => $USER, pre => ['chrt', '--batch', '0'] },
              { user => $USER, pre => ['chrt', '--idle', '0'] }, 0],
    ['I/O priority', { user => $USER, pre => ['ionice', '-c', '3'] },
              { user => $USER }, 0],
    ['OOM score adjustment', { user => $USER, pre => ['choom', '-n', '300', '--'] },
              { user => $USER, pre => ['choom', '-n', '100', '--'] }, 0],
    @place_rows,
    ['everything at once',
              { user => $USER, state => ['--umask', '077', '--ignore', 'HUP',
                                         '--block', 'USR2'], limits => \@caller_soft },
              { user => $USER, state => ['--umask', '000', '--ignore', 'TERM,USR1',
                                         '--block', 'HUP'], limits => \@starter_soft }, 1],
);

# Columns: how the server the caller meets was started.
my @columns = (
    ['started by a default caller', sub { $_[0]{user} eq 'root' ? $plain_root : $plain_user }, {}],
    ['started by a different caller', sub { $_[1] }, {}],
    ['-g name, started by a different caller', sub { $_[1] }, { g => 'pfi12-shared' }],
);

my %g_gap;
for my $row (@rows) {
    my ($attr, $caller, $other, $shared) = @$row;
    $shared //= 0;
    my $alone = probe_run($caller, {}, 1);
    is($alone->{status}, 0, "$attr: standalone run works") or diag $alone->{err};
    my $want = report_of($alone);
    delete @$want{qw(served server)};
    for my $col (@columns) {
        my ($how_label, $pick, $how) = @$col;
        my $label = "$attr x $how_label";
        my $starter = $pick->($caller, $other);
        stop_servers();
        my $first = probe_run($starter, $how);
        is($first->{status}, 0, "$label: the starter's call works") or diag $first->{err};
        my $start_rep = report_of($first);
        # No starter here runs under a filter: each must have started the
        # server that the call below is compared with.
        is($start_rep->{served}, 1, "$label: the starter's call was served");
        my $r = probe_run($caller, $how);
        my $got = report_of($r);
        my ($served, $server) = delete @$got{qw(served server)};

        # What selects the server (src/ident.c): credentials, hard limits
        # and niceness; the rest is applied per call.
        my $bounds = sub {
            my ($rep) = @_;
            return join '|', (map { $rep->{$_} // '' } qw(Uid Gid Groups CapInh
                CapPrm CapEff CapBnd CapAmb NoNewPrivs Seccomp securebits nice
                Cpus_allowed_list policy rt_priority ioprio oom_score_adj
                timerslack_ns personality attr/current cgroup)),
                (map { $rep->{$_} } sort grep { /^ns / } keys %$rep),
                map { ($rep->{$_} =~ /:(.*)/)[0] } sort grep { /^limit / } keys %$rep;
        };
        my $same_bounds = $bounds->($start_rep) eq $bounds->($want);
        my $groups_differ = ($start_rep->{Groups} // '') ne ($want->{Groups} // '')
                         || ($start_rep->{Gid} // '') ne ($want->{Gid} // '');
        if ($shared eq 'direct' || ($how->{g} && $groups_differ)) {
            is($r->{status}, 0, "$label: the call works") or diag $r->{err};
            is($served, 0, "$label: the script ran directly");
            like($r->{err}, qr/\Aprefork-interp: running '\Q$probe\E' without a server \(not accelerated\): [^\n]+\n\z/,
                 "$label: one line says why");
        } elsif ($how->{g} && !$same_bounds) {
            # One -g name for callers that differ in what the kernel
            # cannot compare across the socket: not claimed (SKIP below).
            $g_gap{$attr} = 1;
            next;
        } else {
            is($r->{status}, 0, "$label: the call works") or diag $r->{err};
            is($r->{err}, '', "$label: nothing on stderr");
            is($served, 1, "$label: served by a server");
            my $same = $server == ($start_rep->{server} // -1);
            if ($same_bounds || $how->{g}) {
                ok($same, "$label: by the starter's server");
            } else {
                ok(!$same, "$label: by a server of its own, started with its own credentials");
            }
        }
        is_deeply($got, $want, "$label: identical to its standalone run")
            or diag explain { got => $got, want => $want };
    }
}

SKIP: {
    skip 'under one -g name, callers that differ in capabilities, '
       . 'no-new-privs, securebits, hard limits, niceness or where they run '
       . '(namespaces, control group, CPUs, scheduling, I/O priority, OOM '
       . 'adjustment) share a server '
       . '(not compared: docs/protocol.md, "Explicit names"): '
       . join(', ', sort keys %g_gap), 1 if %g_gap;
    pass('every -g cell compared');
}

SKIP: {
    skip "not tested here: @place_skips", 1 if @place_skips;
    pass('a namespace and a control group of its own compared');
}

stop_servers();
system('umount', $netns) if $netns;
undef $netns;
remove_tree($base);
done_testing;
