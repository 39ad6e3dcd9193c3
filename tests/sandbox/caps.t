# Once the sandbox is on, the client holds no capabilities, has
# no-new-privs set and one seccomp filter in force, whoever called it.
# Seen from outside, in /proc/PID/status, while the client waits inside
# its sandbox for a (fake) server that never reports a status.
#   - the caller as it is (root in CI): every set is empty, the bounding
#     set included; the uid stays 0 (docs/sandbox.md says what that means)
#   - an unprivileged caller with an ambient capability: effective,
#     permitted, inheritable and ambient are empty; the bounding set
#     cannot be changed without CAP_SETPCAP and is left as it was
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use File::Copy qw(copy);
use Test::More;

if (my $off = sandbox_off()) { plan skip_all => $off }

our $client = client_path();
my $ZERO = '0000000000000000';

# Starts the client against a holding fake server and returns its
# /proc status once the filter is in (or undef), then ends the call.
sub status_in_sandbox {
	my ($env, $ident, $client_prefix, %opts) = @_;
	my $p = start_call([@$client_prefix, $client, '-g', $ident, '-U', 'perl',
			    'x.pl'], dir => $opts{dir} // $env->{dir},
			   env => $opts{env} // {});
	my $st;
	wait_for(sub { $st = proc_status($p->{pid}); $st && ($st->{Seccomp} // '') eq '2' }, 10);
	$st = undef unless $st && ($st->{Seccomp} // '') eq '2';
	return ($st, $p);
}

sub check_sandboxed {
	my ($what, $st, $bounding_empty) = @_;
	ok($st, "$what: client reached its sandbox") or return;
	is($st->{Seccomp}, 2, "$what: seccomp filter mode");
	is($st->{Seccomp_filters}, 1, "$what: exactly one filter") if exists $st->{Seccomp_filters};
	is($st->{NoNewPrivs}, 1, "$what: no-new-privs");
	is($st->{$_}, $ZERO, "$what: $_ empty") for qw(CapInh CapPrm CapEff CapAmb);
	if ($bounding_empty) {
		is($st->{CapBnd}, $ZERO, "$what: CapBnd empty");
	} else {
		isnt($st->{CapBnd}, $ZERO, "$what: CapBnd left as it was (no CAP_SETPCAP)");
	}
}

my $env = new_env();
my $fake = start_fake($env, 'hold', 'hold');
my $mine = proc_status($$);
my $root = $> == 0;
my ($st, $p) = status_in_sandbox($env, 'hold', []);
check_sandboxed('this caller', $st, $mine->{CapEff} ne $ZERO);
SKIP: {
	skip 'not root', 2 unless $root;
	isnt($mine->{CapEff}, $ZERO, 'control: the root caller holds capabilities');
	like($st->{Uid}, qr/^0\s+0\s+0\s+0$/, 'root caller: the client keeps uid 0');
}
stop_fake($fake);
my $r = wait_call($p);
is(describe_status($r->{status}), 'exit 127', 'server gone: client ends in words');
like($r->{err}, qr/the server ended before reporting the call's exit status/,
     'and says the server ended before the status');

SKIP: {
	skip 'not root: cannot start a caller with ambient capabilities', 10 unless $root;
	skip 'setpriv (util-linux) is not installed', 10 unless have_program('setpriv');
	my @as_nobody = ('setpriv', '--reuid=65534', '--regid=65534', '--clear-groups');
	my @with_cap = (@as_nobody, '--inh-caps=+net_bind_service',
			'--ambient-caps=+net_bind_service');
	# A run directory that uid 65534 owns, on a path it may walk, with
	# a copy of the client that it may run, and a fake server of uid
	# 65534 in it.
	my ($dir, $why) = nobody_dir(safe => 1);
	skip "no directory for uid 65534: $why", 10 unless $dir;
	my $run = "$dir/run";
	my $sub = run_subdir($run, 65534);    # where the client looks
	for my $d ($run, $sub) {
		mkdir $d, 0700;
		chown 65534, 65534, $d;
	}
	copy($client, "$dir/prefork-interp") && chmod 0755, "$dir/prefork-interp"
		or die "copy: $!";
	local $client = "$dir/prefork-interp";
	my $control = `@with_cap grep CapAmb /proc/self/status`;
	like($control, qr/CapAmb:\s*0*400$/m, 'control: setpriv gives an ambient capability');

	my $nenv = { dir => $run, run => $sub };
	my $fake = fake_server("$sub/shold", fake_reply('hold'), max => 0,
			       uid => 65534, chown => 65534, report => "$dir/fake.report");
	($st, $p) = status_in_sandbox($nenv, 'hold', \@with_cap, dir => $run,
				      env => { PREFORK_INTERP_RUN_DIR => $run });
	check_sandboxed('uid 65534 with an ambient capability', $st, 0);
	stop_fake($fake);
	wait_call($p);
}

done_testing();
