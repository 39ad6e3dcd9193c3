# @ARGV, %ENV and $0 are those of a standalone run, and stdin, stdout
# and stderr are the caller's own open files (pipe, file, terminal).
# PFI_LANG=perl or python (tests/meson.build runs both; Python's $0 is
# sys.argv[0], and its stream objects are python-args_env_stdio's).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;

my $env = new_env();
# A call the client could not hand to a server would run the script
# directly, which passes every check here: refuse that instead.
$ENV{PREFORK_INTERP_FALLBACK} = 'refuse';
my $script = write_script($env, 'dump.pl', { perl => <<'EOS', python => <<'EOS' });
use strict;
use Proc::Prefork::Interp;
prefork_initialisation_complete();
binmode STDOUT;
my $q = sub { my $s = shift; $s =~ s/([^\x20-\x7e])/sprintf "\\x%02x", ord $1/ge; $s };
print "0=", $q->($0), "\n";
print "ARGV=", join(",", map { "[" . $q->($_) . "]" } @ARGV), "\n";
for my $k (sort keys %ENV) {
	next if $k eq 'PERL5LIB' or $k eq '_';
	print "ENV $k=", $q->($ENV{$k}), "\n";
}
EOS
import os, sys
import prefork_interp
prefork_interp.initialisation_complete()
def q(s):
    return "".join(chr(c) if 0x20 <= c <= 0x7E else "\\x%02x" % c
                   for c in os.fsencode(s))
lines = ["0=" + q(sys.argv[0]),
         "ARGV=" + ",".join("[" + q(a) + "]" for a in sys.argv[1:])]
for k in sorted(os.environ):
    if k not in ("PERL5LIB", "_"):
        lines.append(f"ENV {k}=" + q(os.environ[k]))
sys.stdout.write("\n".join(lines) + "\n")
EOS

my @argsets = ([], ['a'], ['', 'two words', "tab\there", '--kill', '-U', '*'],
	       ["\xff\xfe bytes", 'x' x 5000], [map { "arg$_" } 1 .. 300]);
for my $args (@argsets) {
	my $label = scalar(@$args) . " args";
	my %extra = (PFI_TEST_VAR => "v\x01\n=x", EMPTY_ONE => '');
	# Run the script by its #! line, exactly as a user would.
	my $got = run_call([$script, @$args], dir => $env->{dir}, env => \%extra);
	my $want = run_call([interpreter(), $script, @$args], dir => $env->{dir},
			    env => \%extra);
	is($got->{status}, 0, "$label: call succeeded") or diag $got->{err};
	is($got->{out}, $want->{out}, "$label: \$0, \@ARGV and %ENV as standalone");
}
ok(server_pid_of($script), 'those calls were served by a server of the script');

# A variable unset in the caller must be unset in the call, even if it
# was set when the server started.
{
	my $first = run_call([$script], dir => $env->{dir}, env => { ONLY_FIRST => 1 });
	my $second = run_call([$script], dir => $env->{dir}, unset => ['ONLY_FIRST']);
	like($first->{out}, qr/^ENV ONLY_FIRST=1$/m, 'variable seen when set');
	unlike($second->{out}, qr/ONLY_FIRST/, 'variable gone when unset by the caller');
}

# stdio: the very same open files.
my $io = write_script($env, 'io.pl', { perl => <<'EOS', python => <<'EOS' });
use strict;
use Proc::Prefork::Interp;
prefork_initialisation_complete();
my @st = map { join ':', (stat $_)[0, 1] } \*STDIN, \*STDOUT, \*STDERR;
my $line = <STDIN>;
print "got:", $line // "EOF\n";
print STDERR "to-stderr\n";
print "ids:@st\n";
print "tty:", (-t STDIN ? 1 : 0), (-t STDOUT ? 1 : 0), "\n";
seek STDOUT, 0, 1;
print "pos:", tell(STDOUT), "\n";
EOS
import os, sys
import prefork_interp
prefork_interp.initialisation_complete()
st = [f"{os.fstat(fd).st_dev}:{os.fstat(fd).st_ino}" for fd in (0, 1, 2)]
line = sys.stdin.readline()
print("got:" + (line or "EOF\n"), end="")
print("to-stderr", file=sys.stderr)
print("ids:" + " ".join(st))
print(f"tty:{int(os.isatty(0))}{int(os.isatty(1))}")
sys.stdout.flush()
print(f"pos:{os.lseek(1, 0, os.SEEK_CUR)}")
EOS

{
	# pipe in, file out, file err
	my $out = "$env->{dir}/out.txt";
	my $pid = fork // die;
	if (!$pid) {
		# Not O_APPEND: where each write lands shows whose offset it
		# used. The call must write at the caller's offset and move it:
		# one open file, not the same file opened again.
		open STDOUT, '>', $out or POSIX::_exit(1);
		STDOUT->autoflush(1);
		print STDOUT "already here\n";
		open STDERR, '>', "$env->{dir}/err.txt" or POSIX::_exit(1);
		open my $p, '|-', $io or POSIX::_exit(1);
		print $p "piped line\n";
		close $p;
		my $st = $?;
		print STDOUT "after the call\n";
		POSIX::_exit($st ? 1 : 0);
	}
	waitpid $pid, 0;
	is($?, 0, 'pipe-in/file-out call succeeded');
	open my $o, '<', $out or die; local $/; my $text = <$o>;
	like($text, qr/\Aalready here\ngot:piped line\n/, 'stdin from the pipe, stdout written at the caller\'s offset');
	like($text, qr/^pos:\d+\nafter the call\n\z/m, 'the caller\'s offset moved past what the call wrote');
	my @ids = $text =~ /^ids:(\S+) (\S+) (\S+)$/m;
	my @file = stat $out;
	is($ids[1], "$file[0]:$file[1]", 'the executor\'s stdout is the caller\'s file itself');
	like($text, qr/^pos:(\d+)$/m, 'stdout is seekable as the caller\'s file');
	my ($pos) = $text =~ /^pos:(\d+)$/m;
	cmp_ok($pos, '>', length("already here\n"), 'file offset is shared with the caller');
	open my $e, '<', "$env->{dir}/err.txt" or die; my $etext = <$e>;
	is($etext, "to-stderr\n", 'stderr goes to the caller\'s stderr');
}

# An environment no hash can hold, as execve can give it (a name twice,
# an empty name): the script sees the first value of each name and no
# empty name, as the interpreter's own start-up builds %ENV (os.environ);
# and the call runs.
{
	my @with = ('python3', "$FindBin::Bin/../lib/execve_odd_env.py");
	my $got = run_call([@with, $script], dir => $env->{dir});
	my $want = run_call([@with, interpreter(), $script], dir => $env->{dir});
	is($got->{status}, 0, 'a name twice and an empty name: call succeeded')
		or diag $got->{err};
	like($want->{out}, qr/^ENV PFI_DUP=first$/m, 'standalone sees the first value');
	is($got->{out}, $want->{out}, 'a name twice and an empty name: %ENV as standalone');
}

# Variables the initialisation set, changed or removed are so in every
# call, for the script and its children, as in every standalone run;
# the rest is the caller's.
{
	my $init = write_script($env, 'env_init.pl', { perl => <<'EOS', python => <<'EOS' });
use strict;
use Proc::Prefork::Interp;
$ENV{PFI_SET} = 'by-init';
$ENV{PFI_CHANGED} = 'changed-by-init';
delete $ENV{PFI_GONE};
prefork_initialisation_complete();
print map { "$_=$ENV{$_}\n" } sort grep { /^PFI_/ } keys %ENV;
print sort grep { /^PFI_/ } `env`;
EOS
import os, subprocess, prefork_interp
os.environ["PFI_SET"] = "by-init"
os.environ["PFI_CHANGED"] = "changed-by-init"
del os.environ["PFI_GONE"]
prefork_interp.initialisation_complete()
print("".join(f"{k}={v}\n" for k, v in sorted(os.environ.items()) if k.startswith("PFI_")), end="")
env = subprocess.run(["env"], capture_output=True, text=True, check=True).stdout
print("".join(sorted(l + "\n" for l in env.splitlines() if l.startswith("PFI_"))), end="")
EOS
	my %first = (PFI_GONE => 'first', PFI_CHANGED => 'first', PFI_OTHER => 'first');
	is(run_call([$init], dir => $env->{dir}, env => \%first)->{status}, 0,
	   'initialisation setting variables: the server starts');
	for my $extra ({ PFI_GONE => 'x', PFI_CHANGED => 'x', PFI_OTHER => 'x' },
		       { PFI_GONE => 'y', PFI_SET => 'y' }) {
		my $label = join ',', map { "$_=$extra->{$_}" } sort keys %$extra;
		my $got = run_call([$init], dir => $env->{dir}, env => $extra);
		my $want = run_call([interpreter(), $init], dir => $env->{dir}, env => $extra);
		is($got->{status}, 0, "$label: call succeeded") or diag $got->{err};
		like($want->{out}, qr/^PFI_SET=by-init$/m, "$label: standalone has the variable set");
		is($got->{out}, $want->{out}, "$label: what the initialisation set holds in the call");
	}
	ok(server_pid_of($init), 'those calls were served by a server of the script');
}

SKIP: {
	skip 'script(1) from bsdutils is needed for a terminal test', 2
		unless -x '/usr/bin/script';
	my $r = run_call(['/usr/bin/script', '-qec', $io, '/dev/null'],
			 dir => $env->{dir}, stdin => "typed\n");
	like($r->{out}, qr/tty:11/, 'stdin and stdout are the caller\'s terminal');
	like($r->{out}, qr/got:typed/, 'the call read from the terminal');
}

done_testing;
