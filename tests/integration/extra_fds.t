# The caller's open fds above 2 reach the call at their numbers, as a
# standalone run inherits them (docs/protocol.md, "extra-fds"): read
# and written through, named as /dev/fd/N, inherited without
# close-on-exec; each call gets its own caller's; the client lets go
# of its copies; a number the script's initialisation holds stays the
# script's (and the server says so); a caller with more than a call
# carries runs the script directly.  Every case checks that the call
# was served (its pid is not the initialisation's) where it should be.
# PFI_LANG=perl or python (tests/meson.build runs both).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use POSIX ();
use Fcntl qw(F_GETFD FD_CLOEXEC);
use File::Spec;
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep time);
use Test::More;

my $env = new_env();
my $dir = $env->{dir};
my $held_file = "$dir/held-by-init";

# Reports: served=0|1 (a call runs in a fork of the initialisation's
# process), held=N (the fd the initialisation keeps open), then each
# open fd above 2 with its target and close-on-exec flag.  Before that
# it acts: "read N" reads a line from fd N, "open PATH" from PATH,
# "write N TEXT" writes one to fd N, "close-wait N FILE" closes fd N
# and waits for FILE.
# (POSIX is loaded only where it is used: compiled at the start, it
# would take more fds than the script needs, near a limit on them.)
our $script = write_script($env, 'fds.pl', { perl => logging_script_header() . <<EOS, python => logging_script_header() . <<EOS });
open my \$held, '>>', '$held_file' or die "held: \$!";
my \$init_pid = \$\$;
prefork_initialisation_complete(logger => \\&logger);
my \@out;
while (\@ARGV) {
	my \$op = shift \@ARGV;
	if (\$op eq 'read') {
		my \$n = shift \@ARGV;
		open my \$fh, '<&', \$n or die "fd \$n: \$!";
		my \$text = <\$fh>;
		chomp \$text;
		push \@out, "read \$n \$text";
	} elsif (\$op eq 'open') {
		my \$path = shift \@ARGV;
		open my \$fh, '<', \$path or die "\$path: \$!";
		my \$text = <\$fh>;
		chomp \$text;
		push \@out, "open \$path \$text";
	} elsif (\$op eq 'write') {
		my (\$n, \$text) = splice \@ARGV, 0, 2;
		open my \$fh, '>>&', \$n or die "fd \$n: \$!";
		print \$fh "\$text\\n";
		close \$fh;
	} elsif (\$op eq 'close-wait') {
		my (\$n, \$file) = splice \@ARGV, 0, 2;
		require POSIX;
		POSIX::close(\$n);
		my \$end = time + 20;
		select undef, undef, undef, 0.02 until -e \$file || time > \$end;
	}
}
opendir my \$d, '/proc/self/fd' or die;
my \$own = fileno \$d;
my \@fds = sort { \$a <=> \$b } grep { /^\\d+\$/ && \$_ > 2 && \$_ != \$own } readdir \$d;
closedir \$d;
print "served=", (\$\$ != \$init_pid ? 1 : 0), "\\n";
print "held=", fileno(\$held), "\\n";
for my \$n (\@fds) {
	my \$target = readlink("/proc/self/fd/\$n") // '?';
	# (fdinfo's flags are the open flags, in octal; O_CLOEXEC 02000000)
	open my \$info, '<', "/proc/self/fdinfo/\$n" or die;
	my (\$flags) = join('', <\$info>) =~ /^flags:\\s+([0-7]+)/m;
	printf "fd %d %s%s\\n", \$n, \$target, (oct(\$flags) & 02000000) ? ' cloexec' : '';
}
print "\$_\\n" for \@out;
EOS
import fcntl, os, time
held = open("$held_file", "a")
init_pid = os.getpid()
prefork_interp.initialisation_complete(logger=logger)
out = []
args = sys.argv[1:]
while args:
    op = args.pop(0)
    if op == "read":
        n = int(args.pop(0))
        with os.fdopen(os.dup(n)) as f:
            out.append(f"read {n} {f.readline().rstrip()}")
    elif op == "open":
        path = args.pop(0)
        with open(path) as f:
            out.append(f"open {path} {f.readline().rstrip()}")
    elif op == "write":
        n, text = int(args.pop(0)), args.pop(0)
        os.write(n, (text + "\\n").encode())
    elif op == "close-wait":
        n, file = int(args.pop(0)), args.pop(0)
        os.close(n)
        end = time.time() + 20
        while not os.path.exists(file) and time.time() < end:
            time.sleep(0.02)
fds = sorted(int(f) for f in os.listdir("/proc/self/fd"))
fds = [n for n in fds if n > 2 and os.path.exists(f"/proc/self/fd/{n}")]
print(f"served={int(os.getpid() != init_pid)}")
print(f"held={held.fileno()}")
for n in fds:
    try:
        target = os.readlink(f"/proc/self/fd/{n}")
    except OSError:
        target = "?"
    cloexec = " cloexec" if fcntl.fcntl(n, fcntl.F_GETFD) & fcntl.FD_CLOEXEC else ""
    print(f"fd {n} {target}{cloexec}")
for line in out:
    print(line)
EOS

# Runs the script with $fds->{N} (an open handle) at fd N, stdin from
# /dev/null, output to files; returns the call's {status, out, err}.
sub start_with_fds {
	my ($fds, @args) = @_;
	my %f = map { $_ => "$dir/.call-$$-" . int(rand 1e9) . ".$_" } qw(out err);
	my $pid = fork // die "fork: $!";
	if (!$pid) {
		open STDIN, '<', '/dev/null' or POSIX::_exit(120);
		open STDOUT, '>', $f{out} or POSIX::_exit(120);
		open STDERR, '>', $f{err} or POSIX::_exit(120);
		# Every handle is first moved above the numbers wanted, so that
		# placing one never closes another.
		my (%high, $up);
		$up = 900;
		for my $n (keys %$fds) {
			$high{$n} = $up++;
			defined POSIX::dup2(fileno $fds->{$n}, $high{$n}) or POSIX::_exit(122);
		}
		for my $n (keys %high) {
			defined POSIX::dup2($high{$n}, $n) or POSIX::_exit(123);
		}
		POSIX::close($_) for values %high;
		exec $script, @args or POSIX::_exit(121);
	}
	return { pid => $pid, files => \%f };
}

sub finish {
	my ($p) = @_;
	waitpid $p->{pid}, 0;
	my %r = (status => $?, out => slurp_file($p->{files}{out}),
		 err => slurp_file($p->{files}{err}));
	unlink values %{ $p->{files} };
	return \%r;
}

sub call_with_fds { return finish(start_with_fds(@_)) }

sub fd_lines {
	my ($out) = @_;
	return join "\n", $out =~ /^(fd \d+ .*)$/mg;
}

sub file_with {
	my ($name, $text) = @_;
	my $path = "$dir/$name";
	open my $fh, '>', $path or die "$path: $!";
	print $fh "$text\n";
	close $fh;
	open my $r, '<', $path or die "$path: $!";
	return ($r, $path);
}

# The server starts from a caller with no extra fds.
my $r = call_with_fds({});
is($r->{status}, 0, 'the first call starts the server') or diag $r->{err};
my ($held) = $r->{out} =~ /^held=(\d+)$/m;
ok(defined $held && $held > 2, "the initialisation holds fd $held open");
$r = call_with_fds({});
like($r->{out}, qr/^served=1$/m, 'a call without extra fds is served');
is(fd_lines($r->{out}), "fd $held $held_file cloexec", 'it has no fd above 2 but the script\'s own (close-on-exec, as it opened it)');

# Read through, at their numbers, without close-on-exec, high numbers
# too.  (The script's own number is the subject of a case below.)
my $low = $held == 3 ? 4 : 3;
{
	my ($three, $p3) = file_with('three', 'text of three');
	my ($nine, $p9) = file_with('nine', 'text of nine');
	my ($high, $ph) = file_with('high', 'text of 200');
	pipe(my $pr, my $pw) or die;
	$r = call_with_fds({ $low => $three, 9 => $nine, 200 => $high, 63 => $pr },
			   'read', $low, 'read', 200);
	is($r->{status}, 0, "a call with fds $low, 9, 63 and 200") or diag $r->{err};
	like($r->{out}, qr/^served=1$/m, '... is served');
	like($r->{out}, qr/^read $low text of three$/m, "... reads fd $low");
	like($r->{out}, qr/^read 200 text of 200$/m, '... reads fd 200');
	my $pipe = readlink "/proc/$$/fd/" . fileno $pr;
	my @want = sort { (split ' ', $a)[1] <=> (split ' ', $b)[1] }
		   ("fd $low $p3", "fd 9 $p9", "fd 63 $pipe", "fd 200 $ph",
		    "fd $held $held_file cloexec");
	is(fd_lines($r->{out}), join("\n", @want),
	   '... holds exactly those, at their numbers, none close-on-exec, and the script\'s own');
}

# Named as /dev/fd/N, as `script <(cmd)` does.
{
	pipe(my $pr, my $pw) or die;
	my $p = start_with_fds({ 63 => $pr }, 'open', '/dev/fd/63');
	close $pr;
	print $pw "through the pipe\n";
	close $pw;
	$r = finish($p);
	is($r->{status}, 0, 'script /dev/fd/63 (process substitution)') or diag $r->{err};
	like($r->{out}, qr/^served=1$/m, '... is served');
	like($r->{out}, qr{^open /dev/fd/63 through the pipe$}m, '... reads what the caller\'s pipe carries');
}

# Written through (`script 9>>file`).
{
	my $out = "$dir/written";
	open my $w, '>>', $out or die;
	$r = call_with_fds({ 9 => $w }, 'write', 9, 'hello on nine');
	close $w;
	is($r->{status}, 0, 'a call writing to fd 9') or diag $r->{err};
	like($r->{out}, qr/^served=1$/m, '... is served');
	is(slurp_file($out), "hello on nine\n", '... writes the caller\'s file');
}

# The client lets go of its copies: a reader of a pipe among them sees
# end of file as soon as the script closes its end, while the call runs.
for my $round (1 .. 5) {
	pipe(my $pr, my $pw) or die;
	my $go = "$dir/go-$round";
	my $p = start_with_fds({ 7 => $pw }, 'close-wait', 7, $go);
	close $pw;
	my $eof;
	my $end = time + 10;
	my $rin = '';
	vec($rin, fileno $pr, 1) = 1;
	while (time < $end) {
		next unless select(my $rout = $rin, undef, undef, 0.2);
		$eof = sysread($pr, my $buf, 1) == 0;
		last;
	}
	my $running = waitpid($p->{pid}, POSIX::WNOHANG()) == 0;
	ok($eof && $running, "round $round: the pipe's reader sees end of file once the script closed fd 7, while the call runs");
	open my $t, '>', $go or die;
	close $t;
	$r = finish($p);
	is($r->{status}, 0, "round $round: the call then ends") or diag $r->{err};
	like($r->{out}, qr/^served=1$/m, "round $round: it was served");
}

# Each call gets its own caller's, back to back and in parallel.
for my $round (1 .. 10) {
	my ($a, $pa) = file_with("own-$round", "call $round");
	$r = call_with_fds({ 5 => $a }, 'read', 5);
	like($r->{out}, qr/^read 5 call $round$/m, "call $round reads its own caller's fd 5");
	unlike($r->{out}, qr/^fd (?!5 |$held )/m, "call $round holds no other call's fd");
}
{
	my @p;
	for my $k (1 .. 4) {
		my ($a) = file_with("par-$k", "parallel $k");
		push @p, start_with_fds({ 4 => $a }, 'read', 4);
	}
	for my $k (1 .. 4) {
		$r = finish($p[$k - 1]);
		like($r->{out}, qr/^read 4 parallel $k$/m, "parallel call $k reads its own caller's fd 4");
		like($r->{out}, qr/^served=1$/m, "parallel call $k is served");
	}
}

# A number the initialisation holds stays the script's; the server says so.
{
	my ($mine) = file_with('mine', 'the caller\'s');
	my ($other) = file_with('other', 'passed');
	unlink "$dir/log";
	my $other_fd = $held == 3 ? 4 : 3;
	$r = call_with_fds({ $held => $mine, $other_fd => $other }, 'read', $other_fd);
	is($r->{status}, 0, "a caller with fd $held, which the initialisation holds") or diag $r->{err};
	like($r->{out}, qr/^served=1$/m, '... is served');
	like($r->{out}, qr/^fd $held \Q$held_file\E cloexec$/m, "... the script keeps its own fd $held");
	like($r->{out}, qr/^read $other_fd passed$/m, "... and gets the caller's fd $other_fd");
	my $log = '';
	wait_for(sub { $log = slurp_file("$dir/log") // ''; $log =~ /fd $held/ }, 5);
	like($log, qr/the caller's fd $held is not passed: the script's initialisation holds fd $held/,
	     '... and the server\'s messages say the caller\'s one was not passed');
}

# More than a call carries: the script runs directly, with all of them.
{
	my ($f) = file_with('many', 'one of many');
	my %many = map { $_ => $f } 3 .. 67;
	$r = call_with_fds(\%many, 'read', 67);
	is($r->{status}, 0, 'a caller with 65 fds above 2') or diag $r->{err};
	one_prefork_line($r, qr/running '.*' without a server \(not accelerated\): the caller has 65 open fds above 2, more than the 64 a call carries/,
			 '65 fds');
	like($r->{out}, qr/^served=0$/m, '... runs the script directly');
	like($r->{out}, qr/^read 67 one of many$/m, '... which has them all');
	my ($g) = file_with('many64', 'one of many');   # (its own offset)
	%many = map { $_ => $g } 3 .. 66;
	$r = call_with_fds(\%many, 'read', 66);
	like($r->{out}, qr/^served=1$/m, 'a caller with 64 fds above 2 is served');
	like($r->{out}, qr/^read 66 one of many$/m, '... and the call has them');
	is($r->{err}, '', '... quietly');
}

# Perl keeps a script with __DATA__ (or __END__) open as DATA, on the
# lowest number free when it started: usually 3, the number a caller's
# `3<file` takes.  DATA moves off it, as a standalone perl would have
# opened it elsewhere; the caller's fd takes its number.
if (script_lang() eq 'perl') {
	my $data = write_script($env, 'data.pl', logging_script_header() . <<'EOS');
use utf8;
my $init_pid = $$;
prefork_initialisation_complete(logger => \&logger);
my $n = shift @ARGV;
print "served=", ($$ != $init_pid ? 1 : 0), "\n";
print "data_fd=", fileno(DATA), "\n";
my $line = <DATA>;
print "data=$line";
if (defined $n) {
	open my $fh, '<&', $n or die "fd $n: $!";
	print "fd $n: ", scalar <$fh>;
}
__DATA__
first line of DATA
EOS
	# (not through call_with_fds: another script)
	my $run = sub {
		my ($fds, @args) = @_;
		local $script = $data;
		return call_with_fds($fds, @args);
	};
	$r = $run->({});
	my ($data_fd) = $r->{out} =~ /^data_fd=(\d+)$/m;
	ok(defined $data_fd, "DATA is on fd $data_fd in a call without extra fds") or diag "$r->{out} $r->{err}";
	for my $round (1 .. 5) {
		my ($f) = file_with("data-$round", "the caller's $round");
		unlink "$dir/log";
		$r = $run->({ $data_fd => $f }, $data_fd);
		is($r->{status}, 0, "round $round: a caller with fd $data_fd, DATA's number") or diag $r->{err};
		like($r->{out}, qr/^served=1$/m, "round $round: ... is served");
		like($r->{out}, qr/^fd $data_fd: the caller's $round$/m, "round $round: ... the call has the caller's fd $data_fd");
		like($r->{out}, qr/^data=first line of DATA$/m, "round $round: ... and reads DATA from its start");
		unlike($r->{out}, qr/^data_fd=$data_fd$/m, "round $round: ... on another number");
		ok(!-e "$dir/log" || slurp_file("$dir/log") !~ /not passed/, "round $round: nothing was left out");
	}
}

# The limit on open files.  An fd just below the caller's hard limit is
# an ordinary fd (`ulimit -n 1024; exec 1023<file`): the call has it.
# One at or above it (opened before the caller lowered its limit) is
# usable standalone, but no server can place it (dup2 cannot reach it
# without privilege): the script runs directly, with it.  bash sets both
# limits with `ulimit -n`.
SKIP: {
	skip 'bash is not installed', 11 unless have_program('bash');
	my $hard = (split ' ', `bash -c 'ulimit -Hn'`)[0] // '';
	skip "the hard limit on open files ($hard) leaves no room for fd 1500", 11
		unless $hard eq 'unlimited' || $hard > 1600;
	my (undef, $path) = file_with('limit', 'by the limit');
	my $limited = sub {
		my ($shell) = @_;
		return run_call(['bash', '-c', "ulimit -Sn $hard && $shell", '_',
				 $path, $script], dir => $dir);
	};
	for my $round (1 .. 3) {
		$r = $limited->('ulimit -n 1024 && exec 1023<"$1" && exec "$2" read 1023');
		is($r->{status}, 0, "round $round: fd 1023 under a hard limit of 1024") or diag $r->{err};
		like($r->{out}, qr/^served=1$/m, "round $round: ... is served")
			or diag $r->{err};
	}
	$r = $limited->('exec 1500<"$1" && ulimit -n 1024 && exec "$2" read 1500');
	is($r->{status}, 0, 'fd 1500 above a hard limit of 1024') or diag $r->{err};
	like($r->{out}, qr/^read 1500 by the limit$/m, '... is read by the script');
	like($r->{out}, qr/^served=0$/m, '... run directly');
	one_prefork_line($r, qr/running '.*' without a server \(not accelerated\): the caller's fd 1500 is at or above its hard limit of 1024 open files/,
			 'fd 1500');
}

# Fds packed up to near a low soft limit on open files (`ulimit -Sn 40`
# with fds 3 to 30 open): a standalone run has room for its own opens
# above them, and so must the call; the executor may not need as many
# spare numbers again, under the caller's limit, to sort them into
# place.  (The hard limit stays: a caller with another one starts a
# server of its own, which is not the subject here.)
SKIP: {
	skip 'bash is not installed', 9 unless have_program('bash');
	my (undef, $path) = file_with('packed', 'packed in');
	for my $round (1 .. 3) {
		$r = run_call(['bash', '-c', 'ulimit -Sn 40 && for n in $(seq 3 30); do eval "exec $n<\"\$1\""; done && exec "$2" read 30',
			       '_', $path, $script], dir => $dir);
		is($r->{status}, 0, "round $round: fds 3 to 30 under a soft limit of 40 open files") or diag $r->{err};
		like($r->{out}, qr/^served=1$/m, "round $round: ... is served");
		# (all but the one the initialisation holds, as above)
		my $passed = 28 - ($held <= 30 ? 1 : 0);
		is(scalar(() = $r->{out} =~ /^fd \d+ \Q$path\E$/mg), $passed, "round $round: ... and the call has the $passed passed")
			or diag $r->{out};
	}
}

# Fds packed up to near a low HARD limit on open files (`ulimit -n 40`
# with fds 3 to 30 open): a standalone run works, so the call must be
# served, with each fd at its number: the executor, under that limit
# too (a server of its own: see docs/protocol.md), has only the
# numbers the caller left free to sort them into place.  Each fd names
# a file of its own, so that one placed at another's number shows.
# First with a server for that limit already running, then with none
# yet (the client starts one from such a caller); then with more fds.
SKIP: {
	skip 'bash is not installed', 1 unless have_program('bash');
	my $base = "$dir/hard";
	for my $n (3 .. 36) {
		open my $fh, '>', "$base-$n" or die "$base-$n: $!";
		close $fh;
	}
	# fds 3 to $3 under a hard limit of 40, each on "$1-N"; the script $2
	my $packed = 'ulimit -n 40 && for n in $(seq 3 "$3"); do eval "exec $n<\"\$1-$n\""; done && exec "$2" read "$3"';
	# The fd lines a call with fds 3 to $top must report: each at its
	# number, inheritable, but the one the initialisation holds.
	my $want = sub {
		my ($held_here, $top) = @_;
		return join "\n", map { $_ == $held_here ? "fd $_ $held_file cloexec" : "fd $_ $base-$_" }
				  sort { $a <=> $b } 3 .. $top, ($held_here > $top ? $held_here : ());
	};
	# A copy of the script, which no server serves yet.
	my $copy_of_script = sub {
		my ($name) = @_;
		my $path = "$dir/$name";
		open my $fh, '>', $path or die "$path: $!";
		print $fh slurp_file($script);
		close $fh or die "$path: $!";
		chmod 0755, $path;
		return $path;
	};
	$r = run_call(['bash', '-c', 'ulimit -n 40 && exec "$1"', '_', $script], dir => $dir);
	is($r->{status}, 0, 'a caller under a hard limit of 40 open files starts its server') or diag $r->{err};
	my ($held40) = $r->{out} =~ /^held=(\d+)$/m;
	$held40 //= -1;
	for my $round (1 .. 5) {
		$r = run_call(['bash', '-c', $packed, '_', $base, $script, 30], dir => $dir);
		is($r->{status}, 0, "round $round: fds 3 to 30 under a hard limit of 40 open files") or diag $r->{err};
		like($r->{out}, qr/^served=1$/m, "round $round: ... is served");
		is(fd_lines($r->{out}), $want->($held40, 30),
		   "round $round: ... each at its number, inheritable, nothing else open")
			or diag $r->{out};
	}
	for my $round (1 .. 3) {
		my $fresh = $copy_of_script->("fresh-$round.pl");
		$r = run_call(['bash', '-c', $packed, '_', $base, $fresh, 30], dir => $dir);
		is($r->{status}, 0, "round $round: fds 3 to 30 under a hard limit of 40, no server yet") or diag $r->{err};
		like($r->{out}, qr/^served=1$/m, "round $round: ... the call starts one and is served");
		my ($held_fresh) = $r->{out} =~ /^held=(\d+)$/m;
		is(fd_lines($r->{out}), $want->($held_fresh // -1, 30),
		   "round $round: ... each fd at its number, inheritable, nothing else open")
			or diag $r->{out};
	}
	# With that server running, fds 3 to 31 and more: the executor holds
	# all the call's fds at once, beside numbers of its own, before it
	# can place any.  Wherever a standalone run works, so does the call:
	# served while the server has room to take them, else run directly
	# saying so (short of room, a server could only hang up: 127).
	my ($near_served, $near_direct) = (0, 0);
	for my $top (31 .. 36) {
		my @fds_then = ('bash', '-c', 'ulimit -n 40 && for n in $(seq 3 "$2"); do eval "exec $n<\"\$1-$n\""; done && shift 2 && exec "$@"',
				'_', $base, $top);
		my $alone = run_call([@fds_then, interpreter(), $script, 'read', $top],
				     dir => $dir, unset => ['PREFORK_INTERP']);
		next unless $alone->{status} == 0;
		for my $round (1 .. 3) {
			$r = run_call([@fds_then, $script, 'read', $top], dir => $dir);
			is($r->{status}, 0, "round $round: fds 3 to $top under a hard limit of 40, its server running: runs")
				or diag $r->{err};
			my ($held_here) = $r->{out} =~ /^held=(\d+)$/m;
			is(fd_lines($r->{out}), $want->($held_here // -1, $top),
			   "round $round: ... with each fd at its number")
				or diag $r->{out};
			if ($r->{out} =~ /^served=1$/m) {
				$near_served++;
				unlike($r->{err}, qr/prefork-interp/, "round $round: ... served, with no line from prefork-interp");
				next;
			}
			$near_direct++;
			one_prefork_line($r, qr/running '.*' without a server \(not accelerated\): the caller's \d+ open fds above 2 leave a server too few numbers to take them under its hard limit of 40 open files/,
					 "fds 3 to $top with its server running, run directly");
		}
	}
	ok($near_served && $near_direct, 'near the limit, some were served and some ran directly (both cases covered)')
		or diag "served $near_served, directly $near_direct";
	# Fds 3 to 31 and more: too few numbers left, at some point, to
	# reach or start a server (the run directory, the server's pipes,
	# its socket), and then to run perl or python at all.  Wherever a
	# standalone run works, so does the call: served, or run directly
	# saying why.  (A run directory of their own, for the servers these
	# start, killed at the end.)
	my $short = tempdir('pfi-XXXXXX', DIR => File::Spec->tmpdir, CLEANUP => 1);
	chmod 0700, $short;
	local $ENV{PREFORK_INTERP_RUN_DIR} = $short;
	my $ran_directly = 0;
	for my $top (31 .. 36) {
		my @fds_then = ('bash', '-c', 'ulimit -n 40 && for n in $(seq 3 "$2"); do eval "exec $n<\"\$1-$n\""; done && shift 2 && exec "$@"',
				'_', $base, $top);
		my $fresh = $copy_of_script->("fresh-to-$top.pl");
		my $alone = run_call([@fds_then, interpreter(), $fresh, 'read', $top],
				     dir => $dir, unset => ['PREFORK_INTERP']);
		next unless $alone->{status} == 0;
		$r = run_call([@fds_then, $fresh, 'read', $top], dir => $dir);
		is($r->{status}, 0, "fds 3 to $top under a hard limit of 40, which a standalone run has room for: runs")
			or diag $r->{err};
		my ($held_here) = $r->{out} =~ /^held=(\d+)$/m;
		is(fd_lines($r->{out}), $want->($held_here // -1, $top),
		   "... with each fd at its number")
			or diag $r->{out};
		next unless $r->{out} =~ /^served=0$/m;
		$ran_directly++;
		one_prefork_line($r, qr/running '.*' without a server \(not accelerated\): (?:.*Too many open files|the caller's \d+ open fds above 2 leave a server too few numbers)/,
				 "fds 3 to $top, run directly");
	}
	ok($ran_directly, 'some of those ran directly (the case is covered)');
	kill_servers({ dir => $dir, run => run_subdir($short, $>) });
}

# A hard limit on open files too low for any server (below 16): its
# setup's own socket and pipes would leave the script's initialisation
# short of numbers (it died loading its modules, where a standalone run
# works), or the server none to make a call's process with.  The script
# runs directly, saying so; from 16 up, calls are served.
SKIP: {
	skip 'bash is not installed', 1 unless have_program('bash');
	my $under = sub {
		my ($hard, @cmd) = @_;
		return run_call(['bash', '-c', "ulimit -n $hard && exec \"\$@\"", '_', @cmd],
				dir => $dir, @cmd > 1 ? (unset => ['PREFORK_INTERP']) : ());
	};
	my $low_checked = 0;
	for my $hard (10, 12, 15) {
		next unless $under->($hard, interpreter(), $script)->{status} == 0;
		$low_checked++;
		for my $round (1 .. 2) {
			$r = $under->($hard, $script);
			is($r->{status}, 0, "round $round: a hard limit of $hard open files, which a standalone run works under: runs")
				or diag $r->{err};
			like($r->{out}, qr/^served=0$/m, "round $round: ... directly");
			one_prefork_line($r, qr/running '.*' without a server \(not accelerated\): the caller's hard limit of $hard open files is below the 16 a server needs/,
					 "hard limit $hard, round $round");
		}
	}
	ok($low_checked, 'some low hard limit left a standalone run working (the case is covered)');
	for my $round (1 .. 3) {
		$r = $under->(16, $script);
		is($r->{status}, 0, "round $round: a hard limit of 16 open files") or diag $r->{err};
		like($r->{out}, qr/^served=1$/m, "round $round: ... is served") or diag $r->{err};
	}
}

# An fd the kernel refuses to pass (an io_uring instance, which a
# caller left inheritable): the script runs directly, with it.
SKIP: {
	# io_uring_setup(4, params): the syscall's number on x86_64 and
	# arm64 alike; params is 120 bytes, zeroed.
	my $params = "\0" x 120;
	my $ring = syscall(425, 4, $params);
	skip "no io_uring here ($!)", 5 if $ring < 0;
	open my $rh, '+<&=', $ring or die "io_uring fd: $!";
	$r = call_with_fds({ 8 => $rh }, 'write', 2, 'ran');
	is($r->{status}, 0, 'a caller with an io_uring fd') or diag $r->{err};
	like($r->{out}, qr/^served=0$/m, '... runs the script directly');
	like($r->{out}, qr/^fd 8 anon_inode:\[io_uring\]$/m, '... which has it');
	one_prefork_line($r, qr/running '.*' without a server \(not accelerated\): the caller's fd 8 cannot be passed to a server/,
			 'io_uring fd');
	close $rh;
}

# A caller that is a background job of its terminal, with that terminal
# on an fd above 2: reading it stops a standalone run (SIGTTIN), and so,
# under `stty tostop`, does writing it (SIGTTOU); an executor has no
# controlling terminal and would read the shell's input instead, so the
# script runs directly, as for stdin.  In the foreground it is served.
{
	require IO::Pty;
	# Runs the script with the pty's slave, opened $mode ('+<', '>'),
	# on fd 5, in a session whose controlling terminal it is; in the
	# background (a process group of its own) or not.  stdin /dev/null.
	my $on_tty = sub {
		my ($mode, $background, $tostop) = @_;
		my $pty = IO::Pty->new;
		my %f = map { $_ => "$dir/.tty-$$-" . int(rand 1e9) . ".$_" } qw(out err);
		my $pid = fork // die "fork: $!";
		if (!$pid) {
			$pty->make_slave_controlling_terminal;   # (a session of its own)
			my $slave = $pty->slave;
			close $pty;
			if ($tostop) {
				my $t = POSIX::Termios->new;
				$t->getattr(fileno $slave) or POSIX::_exit(131);
				$t->setlflag($t->getlflag | POSIX::TOSTOP());
				$t->setattr(fileno $slave, POSIX::TCSANOW()) or POSIX::_exit(132);
			}
			open my $tty, $mode, $pty->ttyname or POSIX::_exit(133);
			my $job = fork // POSIX::_exit(134);
			if (!$job) {
				POSIX::setpgid(0, 0) if $background;
				open STDIN, '<', '/dev/null' or POSIX::_exit(120);
				open STDOUT, '>', $f{out} or POSIX::_exit(120);
				open STDERR, '>', $f{err} or POSIX::_exit(120);
				defined POSIX::dup2(fileno $tty, 5) or POSIX::_exit(135);
				exec $script or POSIX::_exit(121);
			}
			waitpid $job, 0;
			POSIX::_exit($? >> 8 || ($? & 127 ? 140 : 0));
		}
		close $pty->slave if $pty->slave;
		waitpid $pid, 0;
		my %r = (status => $?, out => slurp_file($f{out}), err => slurp_file($f{err}));
		unlink values %f;
		return \%r;
	};
	for my $round (1 .. 3) {
		$r = $on_tty->('+<', 1, 0);
		is($r->{status}, 0, "round $round: a background job with its terminal on fd 5: runs") or diag $r->{err};
		like($r->{out}, qr/^served=0$/m, "round $round: ... directly");
		one_prefork_line($r, qr/background job of its terminal \(fd 5\): a read there stops a standalone run \(SIGTTIN\)/,
				 "round $round: background, terminal read on fd 5");

		$r = $on_tty->('>', 1, 1);
		like($r->{out}, qr/^served=0$/m, "round $round: ... written under tostop: directly");
		one_prefork_line($r, qr/background job of its terminal \(fd 5\) under 'stty tostop'/,
				 "round $round: background, terminal written on fd 5 under tostop");

		$r = $on_tty->('>', 1, 0);
		like($r->{out}, qr/^served=1$/m, "round $round: ... written without tostop: served (a write goes through)");
		is($r->{err}, '', "round $round: ... quietly");

		$r = $on_tty->('+<', 0, 0);
		like($r->{out}, qr/^served=1$/m, "round $round: in the foreground with its terminal on fd 5: served");
		like($r->{out}, qr{^fd 5 /dev/pts/\d+$}m, "round $round: ... and the call has it on fd 5");
	}
}

kill_servers($env);
done_testing();
