# What perl decides when it starts, a served call must decide for
# itself, as its caller's standalone `perl script` would: the report of
# a failed STDOUT flush at exit, STDOUT's buffering (a terminal or not),
# $^T, and the locale. Each case is compared with a standalone run, or
# with what one gives, with the server started by a different caller.
# Perl only: these are the Perl module's (python/README.md describes
# Python's own start-up).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use POSIX ();
use Test::More;

plan skip_all => 'the Perl module only' unless script_lang() eq 'perl';
my $env = new_env();

# Runs @cmd with fds 0-2 as given (handles or paths for stdout);
# returns its wait status.
sub run_with {
	my ($cmd, %fd) = @_;
	my $pid = fork // die "fork: $!";
	if (!$pid) {
		POSIX::dup2(fileno $fd{$_}, $_ eq 'in' ? 0 : $_ eq 'out' ? 1 : 2)
			for grep { $fd{$_} } qw(in out err);
		exec @$cmd or POSIX::_exit(121);
	}
	waitpid $pid, 0;
	return $?;
}

sub read_all {
	my ($fh) = @_;
	local $/;
	return scalar(<$fh>) // '';
}

#---------------------------------------------------------------- flush at exit

# perl reports a failed flush of STDOUT at exit and exits 1 instead of
# 0; a served call's STDOUT must be perl's own, so that it does too.
for my $fast (0, 1) {
	my $script = write_script($env, "full$fast.pl", <<"EOS");
use Proc::Prefork::Interp;
prefork_initialisation_complete(fast_exit => $fast);
print "hello\\n";
EOS
	my $label = $fast ? 'fast_exit' : 'ordinary ending';
	for my $how (['first call', $script], ['served', $script],
		     ['standalone', 'perl', $script]) {
		my ($what, @cmd) = @$how;
		open my $full, '>', '/dev/full' or die "/dev/full: $!";
		open my $err, '+>', undef or die;
		my $st = run_with(\@cmd, out => $full, err => $err);
		seek $err, 0, 0;
		is(describe_status($st), 'exit 1', "$label, $what: stdout on a full disk: exit 1");
		like(read_all($err), qr/\AUnable to flush stdout: No space left on device\n\z/,
		     "$label, $what: and perl's message");
	}
	kill_servers($env);
}

#---------------------------------------------------------------- buffering

# STDOUT is line-buffered on a terminal, block-buffered elsewhere,
# decided for each call's own fd 1, not the caller's that started the
# server. STDERR is unbuffered: in a pipe its line comes first.
SKIP: {
	eval { require IO::Pty; 1 }
		or skip 'IO::Pty missing (Debian: libio-pty-perl)', 3;
	my $script = write_script($env, 'buf.pl', <<'EOS');
use Proc::Prefork::Interp;
prefork_initialisation_complete();
print "line1\n";
print STDERR "err1\n";
print "line2\n";
EOS
	my $on_pty = sub {
		my $pty = IO::Pty->new;
		my $slave = $pty->slave;
		run_with([$script], in => $slave, out => $slave, err => $slave);
		# The call has ended: what it wrote is waiting in the terminal.
		my $got = '';
		for (;;) {
			my $rin = '';
			vec($rin, fileno $pty, 1) = 1;
			last unless select($rin, undef, undef, 0.5) > 0;
			sysread($pty, my $buf, 4096) or last;
			$got .= $buf;
		}
		$got =~ s/\r\n/\n/g;
		return $got;
	};
	my $on_pipe = sub {
		pipe my $r, my $w or die;
		open my $null, '<', '/dev/null' or die;
		run_with([@_], in => $null, out => $w, err => $w);
		close $w;
		return read_all($r);
	};
	my $want_pipe = $on_pipe->('perl', $script);
	is($want_pipe, "err1\nline1\nline2\n", 'standalone into a pipe: stdout block-buffered');

	$on_pty->();                    # starts the server from a terminal
	my $got = $on_pipe->($script);
	is($got, $want_pipe, 'server started on a terminal, call into a pipe: as standalone');
	kill_servers($env);

	$on_pipe->($script);            # starts the server from a pipe
	$got = $on_pty->();
	is($got, "line1\nerr1\nline2\n",
	   'server started from a pipe, call on a terminal: line-buffered');
	kill_servers($env);
}

# Perl's buffer layer notes the fd's position when it is pushed: tell()
# counts from the caller's offset, not from the server's.
{
	my $script = write_script($env, 'tell.pl', <<'EOS');
use Proc::Prefork::Interp;
prefork_initialisation_complete();
print "at ", tell(STDOUT), "\n";
EOS
	my @got;
	for my $cmd ([$script], [$script], ['perl', $script]) {
		my $file = "$env->{dir}/tell.out";
		open my $out, '>', $file or die;
		syswrite $out, "already here\n";
		run_with($cmd, out => $out);
		push @got, slurp_file($file);
	}
	is($got[1], $got[2], 'tell(STDOUT) in a served call: as standalone')
		or diag "first call: $got[0]";
	kill_servers($env);
}

#---------------------------------------------------------------- $^T

{
	my $script = write_script($env, 'basetime.pl', <<'EOS');
use Proc::Prefork::Interp;
prefork_initialisation_complete();
print time - $^T, "\n";
EOS
	run_call([$script], dir => $env->{dir});
	sleep 3;
	my $got = run_call([$script], dir => $env->{dir});
	cmp_ok($got->{out}, '<=', 1, '$^T: the call\'s start, not the server\'s');
	kill_servers($env);
}

#---------------------------------------------------------------- locale

{
	my $script = write_script($env, 'locale.pl', <<'EOS');
use POSIX qw(setlocale LC_ALL LC_CTYPE LC_NUMERIC);
use Proc::Prefork::Interp;
setlocale(LC_ALL, 'C') if $ENV{OWN_LOCALE};
prefork_initialisation_complete();
print join(' ', setlocale(LC_ALL), setlocale(LC_CTYPE), setlocale(LC_NUMERIC),
	   sprintf('%.1f', 1.5)), "\n";
EOS
	my $unset = [qw(LANGUAGE LC_ALL LC_CTYPE LC_NUMERIC LC_MESSAGES LC_COLLATE LANG
		       OWN_LOCALE)];
	my $call = sub {
		my (%e) = @_;
		my $cmd = delete $e{cmd} // [$script];
		return run_call($cmd, dir => $env->{dir}, env => { %e, PERL_BADLANG => 0 },
				unset => [grep { !exists $e{$_} } @$unset])->{out};
	};
	$call->(LC_ALL => 'C.UTF-8');   # starts the server
	for my $case ([LC_ALL => 'C'], [LANG => 'C'], [LANG => 'C.UTF-8'],
		      [LC_ALL => 'no_SUCH.locale', LANG => 'C'],
		      [LC_CTYPE => 'C.UTF-8', LANG => 'C']) {
		is($call->(@$case), $call->(@$case, cmd => ['perl', $script]),
		   "locale of a call with @$case: as standalone");
	}
	kill_servers($env);
	# A locale the initialisation chose stays.
	$call->(OWN_LOCALE => 1, LC_ALL => 'C.UTF-8');   # starts the server
	is($call->(OWN_LOCALE => 1, LC_ALL => 'C.UTF-8'),
	   $call->(OWN_LOCALE => 1, LC_ALL => 'C.UTF-8', cmd => ['perl', $script]),
	   'a locale the script set itself in its initialisation stays');
	kill_servers($env);
}

ok(wait_processes_gone($env->{dir}, 10), 'no server left');
done_testing;
