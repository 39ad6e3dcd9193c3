# Managing this user's servers: one server per script file whatever the
# spelling of its path (the working directory still separates them),
# --list, --kill SCRIPT from anywhere, --kill-all, the bound on servers
# made by -E values (oldest first), and that none of this ever touches a
# file that is not ours (a run directory shared with other files, the
# user's own and, as root, another user's).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use File::Path qw(make_path);
use Cwd ();
use POSIX qw(mkfifo);
use Socket qw(AF_UNIX SOCK_STREAM pack_sockaddr_un);
use Test::More;
use Time::HiRes qw(sleep);

my $env = new_env();
my $client = client_path();
my $dir = $env->{dir};
make_path("$dir/app/bin", "$dir/app/work", "$dir/elsewhere");
my $body = <<'EOS';
use Proc::Prefork::Interp;
prefork_initialisation_complete();
print "server=", getppid(), "\n";
EOS
my $x = write_script($env, 'app/bin/x.pl', $body);
my $y = write_script($env, 'app/bin/y.pl', $body);

sub server_of { my ($r) = @_; return ($r->{out} =~ /^server=(\d+)$/m)[0] // 'none' }
sub call_in {
	my ($cwd, @cmd) = @_;
	my $p = start_call(['sh', '-c', 'cd "$1" && shift && exec "$@"', 'sh', $cwd, @cmd],
			   dir => $dir);
	return wait_call($p);
}
sub live_servers { my @s = grep { -S "$env->{run}/$_" && -o _ } PFIHarness::socket_files($env); return @s }
sub distinct { my %seen = map { $_ => 1 } @_; return scalar keys %seen }

# The files of other owners and purposes sharing the run directory.
my $shared = $env->{run_dir};
my @theirs;
for my $i (1 .. 52) {
	my $f = sprintf "%s/log%03d", $shared, $i;
	open my $fh, '>', $f or die; close $fh;
	push @theirs, $f;
}
{
	open my $fh, '>', "$shared/sdata" or die; print $fh "keep\n"; close $fh;
	push @theirs, "$shared/sdata";
}
# ... and files in our own subdirectory that have our names but are not
# ours by type, size or links: never taken.
my $run = $env->{run};
my $hex = 'ab' x 32;
{
	open my $fh, '>', "$run/l$hex" or die; print $fh "not empty\n"; close $fh;
	open $fh, '>', "$run/s$hex" or die; close $fh;       # a file, not a socket
	open $fh, '>', "$run/lother" or die; close $fh;
	link "$run/lother", "$run/llinked" or die;           # two links
	mkfifo("$run/lfifo", 0600) or die;
	symlink "$shared/log001", "$run/lsym" or die;
	push @theirs, map { "$run/$_" } "l$hex", "s$hex", 'lother', 'llinked', 'lfifo', 'lsym';
}
# ... and, where we may make them (as root), another user's socket and
# empty lock with our names, in the shared directory and in ours.
my $other_uid = 65534;
SKIP: {
	skip 'not root: cannot make files of another uid (the checks below then cover only our own)', 1 unless $> == 0;
	my $other = 'cd' x 32;
	my $back = Cwd::getcwd();
	for my $d ($shared, $run) {
		socket(my $s, AF_UNIX, SOCK_STREAM, 0) or die;
		chdir $d or die;        # the full path is too long for bind
		bind($s, pack_sockaddr_un("s$other")) or die "bind: $!";
		chdir $back or die;
		close $s;
		open my $fh, '>', "$d/l$other" or die; close $fh;
		chown $other_uid, $other_uid, "$d/s$other", "$d/l$other" or die;
		push @theirs, "$d/s$other", "$d/l$other";
	}
	is(scalar(grep { (lstat)[4] == $other_uid } @theirs), 4,
	   "uid $other_uid's socket and lock placed in both directories");
}

# Spellings of one path share a server; another directory does not.
my @r = (call_in("$dir/app/bin", $client, '-U', 'perl', './x.pl'),
	 call_in("$dir/app/bin", $client, '-U', 'perl', '../bin/x.pl'),
	 call_in("$dir/app/bin", $client, '-U', 'perl', 'x.pl'),
	 call_in("$dir/app/bin", $client, '-U', 'perl', "$dir/app/../app/bin/x.pl"));
is(join(' ', map { $_->{status} } @r), '0 0 0 0', 'four spellings ran') or diag join '', map { $_->{err} } @r;
is(distinct(map { server_of($_) } @r), 1, 'four spellings of one path share one server');
is(scalar(live_servers()), 1, 'one socket for them');
my $work = call_in("$dir/app/work", $client, '-U', 'perl', '../bin/x.pl');
isnt(server_of($work), server_of($r[0]), 'another working directory has its own server');
my $other = call_in("$dir/app/bin", $client, '-U', 'perl', './y.pl');
is($other->{status}, 0, 'another script runs');
is(scalar(live_servers()), 3, 'three servers now');

# --list shows each server with its pid, title and directory.
my $l = run_call([$client, '--list'], dir => $dir);
is($l->{status}, 0, '--list succeeds') or diag $l->{err};
my @rows = grep { !/^#|^PID/ } split /\n/, $l->{out};
is(scalar(@rows), 3, '--list shows three servers') or diag $l->{out};
my %listed = map { (split ' ', $_)[0] => $_ } @rows;
for my $case ([$r[0], "$dir/app/bin"], [$work, "$dir/app/work"], [$other, "$dir/app/bin"]) {
	my $pid = server_of($case->[0]);
	ok($listed{$pid}, "--list names server $pid") or next;
	like($listed{$pid}, qr/\[prefork server\] \d+ calls? \(in \Q$case->[1]\E\)$/, "--list: title and directory of $pid");
	like($listed{$pid}, qr/^\d+\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\d+s\s+\d+\s+[\d.]+ MB\s/, "--list: started, idle, calls, memory of $pid");
}
like($l->{out}, qr/^# run directory \Q$run\E$/m, '--list names the run directory');
is((split ' ', $listed{server_of($r[0])} // '')[4], 4, '--list: the server in app/bin took 4 calls');
is((split ' ', $listed{server_of($work)} // '')[4], 1, '--list: the one in app/work took 1');

# -E: at most 8 servers of one family; the least recently used go first.
my @variant;
for my $i (1 .. 12) {
	my $v = call_in("$dir/app/bin", 'env', "PFI_V=$i", $client, '-U', '-E', 'PFI_V', 'perl', './y.pl');
	is($v->{status}, 0, "-E value $i runs") or diag $v->{err};
	push @variant, server_of($v);
	sleep 0.01;     # distinct last-use times
}
is(distinct(@variant), 12, 'twelve -E values, twelve servers started');
# The y family is the 12 variants; x and the plain y are separate families.
is(scalar(live_servers()), 3 + 8, 'at most 8 of the -E family are kept (3 others untouched)');
for my $i (1 .. 4) {
	ok(!kill(0, $variant[$i - 1]) || wait_pid_gone($variant[$i - 1]), "the oldest variant $i was retired");
}
for my $i (5 .. 12) {
	ok(kill(0, $variant[$i - 1]), "the recent variant $i is kept");
}
my $again = call_in("$dir/app/bin", 'env', 'PFI_V=1', $client, '-U', '-E', 'PFI_V', 'perl', './y.pl');
is($again->{status}, 0, 'a retired variant starts again on demand');

sub wait_pid_gone {
	my ($pid) = @_;
	for (1 .. 500) { return 1 unless kill 0, $pid; sleep 0.02 }
	return 0;
}

# --kill SCRIPT from another directory, spelled differently, stops every
# server of that script (all directories), and no other.
my $before_x = server_of($r[0]);
my $k = call_in("$dir/elsewhere", $client, '--kill', "$dir/app/bin/../bin/x.pl");
is($k->{status}, 0, '--kill SCRIPT from another directory succeeds') or diag $k->{err};
ok(wait_pid_gone($before_x), '--kill: the server in app/bin is gone');
ok(wait_pid_gone(server_of($work)), '--kill: the server in app/work is gone');
ok(kill(0, server_of($other)), '--kill: the other script\'s server is kept');
is(scalar(live_servers()), 9, 'nine y servers left');

# The #! form of --kill still works (the script's servers, any -E value).
$k = call_in("$dir/app/bin", $client, '--kill,-U,perl', './y.pl');
is($k->{status}, 0, '--kill in the combined form succeeds');
is(scalar(live_servers()), 0, 'every y server is gone, -E variants included');

# --kill-all.
call_in("$dir/app/bin", $client, '-U', 'perl', './x.pl');
call_in("$dir/app/work", $client, '-U', 'perl', '../bin/y.pl');
is(scalar(live_servers()), 2, 'two servers again');
$k = run_call([$client, '--kill-all'], dir => $dir);
is($k->{status}, 0, '--kill-all succeeds');
is(scalar(live_servers()), 0, '--kill-all: no server left');
$l = run_call([$client, '--list'], dir => $dir);
is(scalar(grep { !/^#|^PID/ } split /\n/, $l->{out}), 0, '--list shows none');

# -f, pre-cleaning, --kill and --kill-all have touched nothing else.
is(scalar(grep { -e $_ || -l $_ } @theirs), scalar(@theirs), 'every file that is not ours is still there');
opendir my $sd, $shared or die;
is(join(' ', sort grep { !/^\.\.?$/ && !/^log\d{3}$/ && !/^[sl](cd)+$/ } readdir $sd), 'prefork-interp-' . $> . ' sdata',
   'nothing but our subdirectory was added beside them');
my @locks = grep { /^l[0-9a-f]{64}$/ && $_ ne "l$hex" && !/^l(cd)+$/ } do { opendir my $h, $run or die; readdir $h };
is(scalar(@locks), 0, 'our lock files went with their servers');

ok(kill_servers($env), 'no server left behind');
done_testing;
