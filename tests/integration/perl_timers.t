# An alarm (alarm, Time::HiRes::setitimer) that a script's
# initialisation arms interrupts its standalone run's per-call code; a
# fork does not inherit interval timers, so a call must have them
# re-armed, with the time they had left when the initialisation ended.
# Perl only (the Python module's own: python/tests/test_hygiene.py).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;

plan skip_all => 'the Perl module only' unless script_lang() eq 'perl';
my $env = new_env();
$ENV{PREFORK_INTERP_FALLBACK} = 'refuse';

# Default SIGALRM: the run dies of it.
my $dies = write_script($env, 'alarm-dies.pl', <<'EOS');
use Proc::Prefork::Interp;
alarm 2;
prefork_initialisation_complete();
print "call\n";
sleep 8;
print "not interrupted\n";
EOS
# A handler the initialisation set, and a sub-second timer.
my $caught = write_script($env, 'alarm-caught.pl', <<'EOS');
use Time::HiRes ();
use Proc::Prefork::Interp;
$SIG{ALRM} = sub { print "alarm\n"; exit 3 };
Time::HiRes::setitimer(Time::HiRes::ITIMER_REAL(), 1.5);
prefork_initialisation_complete();
print "call\n";
sleep 8;
print "not interrupted\n";
exit 0;
EOS

for my $case ([$dies, 'alarm set in the initialisation, default action'],
	      [$caught, 'setitimer in the initialisation, handler']) {
	my ($script, $label) = @$case;
	my $want = standalone_status($script);
	like(describe_status($want->{status}), qr/^(signal 14|exit 3)$/,
	     "$label: standalone is interrupted");
	for my $i (1 .. 4) {
		my $r = run_call([$script], dir => $env->{dir});
		is(describe_status($r->{status}), describe_status($want->{status}),
		   "$label, call $i: status as standalone");
		is($r->{out}, $want->{out}, "$label, call $i: output as standalone");
	}
}
# The server itself is not killed by the alarm meant for its calls.
is(scalar(socket_files($env)), 2, 'both servers still listen')
	or diag 'sockets: ' . join ' ', socket_files($env);
my $again = run_call([$dies], dir => $env->{dir});
is(describe_status($again->{status}), 'signal 14', 'and a later call is still interrupted');

kill_servers($env);
done_testing;
