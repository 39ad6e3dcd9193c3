# A call that dies of a core-dumping signal leaves the core dump of its
# standalone run (the executor's), and the client, which only
# reproduces the signal, leaves none: not even through a core_pattern
# pipe (systemd-coredump, apport), which ignores RLIMIT_CORE.  The test
# sets kernel.core_pattern to a pipe into a recorder for its duration
# (root only) and puts it back.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;

need_root();
my $pattern_file = '/proc/sys/kernel/core_pattern';
my $saved = slurp_file($pattern_file);
plan skip_all => "cannot read $pattern_file" unless defined $saved && length $saved;
chomp $saved;

my $env = new_env();
my $log = "$env->{dir}/cores.log";
my $recorder = "$env->{dir}/recorder.sh";
open my $rec, '>', $recorder or die "$recorder: $!";
print $rec "#!/bin/sh\necho \"\$1 \$2\" >> '$log'\nexec cat >/dev/null\n";
close $rec or die "$recorder: $!";
chmod 0755, $recorder;

sub set_pattern {
	my ($value) = @_;
	open my $fh, '>', $pattern_file or return 0;
	print $fh "$value\n";
	return close $fh;
}
plan skip_all => "cannot write $pattern_file (a container's read-only /proc/sys?)"
	unless set_pattern("|$recorder %P %e");
END { set_pattern($saved) if defined $saved }
$SIG{$_} = sub { set_pattern($saved); exit 1 } for qw(INT TERM HUP);

my $script = write_script($env, 'crash.pl', { perl => <<'EOS', python => <<'EOS' });
use Proc::Prefork::Interp;
prefork_initialisation_complete();
kill 'SEGV', $$;
sleep 5;
EOS
import os, signal, time
import prefork_interp
prefork_interp.initialisation_complete()
os.kill(os.getpid(), signal.SIGSEGV)
time.sleep(5)
EOS

sub recorded {
	my $text = slurp_file($log) // '';
	return map { [split / /, $_, 2] } split /\n/, $text;
}

# Positive control: a standalone run's crash reaches the recorder.
my $sa = start_call([interpreter(), $script], dir => $env->{dir});
my $sa_pid = $sa->{pid};
my $r = wait_call($sa);
is(describe_status($r->{status}), 'signal 11', 'standalone: dies of SIGSEGV');
ok((grep { $_->[0] == $sa_pid } recorded()), 'standalone: its core went to the recorder')
	or diag "recorded: " . (slurp_file($log) // '(nothing)');

# Warm the server, then calls: the executor's core only, never the
# client's.
run_call([$script], dir => $env->{dir});
my @client_pids;
for my $i (1 .. 5) {
	my $call = start_call([$script], dir => $env->{dir});
	push @client_pids, $call->{pid};
	$r = wait_call($call);
	is(describe_status($r->{status}), 'signal 11', "call $i: dies of SIGSEGV");
}
my %client = map { $_ => 1 } @client_pids;
my @recorded = recorded();
my @from_clients = grep { $client{$_->[0]} } @recorded;
is(scalar(@from_clients), 0, 'no core of the client reached the recorder')
	or diag "from clients: " . join ', ', map { "@$_" } @from_clients;
# (the executors' own: one per call and the warming one, maybe others'
# crashes of the machine meanwhile)
cmp_ok(scalar(@recorded) - 1, '>=', 6, 'the executors\' cores did');

set_pattern($saved);
kill_servers($env);
done_testing;
