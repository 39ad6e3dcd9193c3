# %SIG as the per-call code finds it is what a standalone run has: an
# entry is undef for a signal perl found at its default, 'IGNORE' for
# one its caller ignored, and what the initialisation set stays. The
# module changes some signals for the server's own use (INT, PIPE, ALRM,
# CHLD, TERM, HUP): putting them back must not leave 'DEFAULT' where a
# standalone run has undef (`$SIG{ALRM} ||= ...` would then do nothing).
# Perl only: %SIG is perl's.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;

plan skip_all => 'the Perl module only' unless script_lang() eq 'perl';
my $env = new_env();
$ENV{PREFORK_INTERP_FALLBACK} = 'refuse';

# Every %SIG entry that is defined, with handlers shown as CODE.
my $show = <<'EOS';
print map { my $v = $SIG{$_}; defined $v ? "$_=" . (ref $v ? 'CODE' : $v) . "\n" : () }
	sort keys %SIG;
EOS

# Runs @cmd with the signals named in $ignore (space-separated) ignored.
sub with_ignored {
	my ($ignore, @cmd) = @_;
	return run_call(['perl', '-e', '$SIG{$_} = "IGNORE" for split / /, shift; exec @ARGV',
			 $ignore, @cmd], dir => $env->{dir});
}

my %scripts = (
	plain => "use Proc::Prefork::Interp;\nprefork_initialisation_complete();\n$show",
	# The initialisation sets some of the signals the server takes for
	# itself, and others: they stay as it set them.
	init_set => <<"EOS",
use Proc::Prefork::Interp;
\$SIG{TERM} = sub { };
\$SIG{ALRM} = 'IGNORE';
\$SIG{USR1} = sub { };
\$SIG{HUP} = 'DEFAULT';
delete \$SIG{INT};              # the first caller ignored it
prefork_initialisation_complete();
$show
EOS
);

for my $name (sort keys %scripts) {
	my $script = write_script($env, "$name.pl", $scripts{$name});
	# Started by a caller that ignores SIGINT and SIGHUP (a background
	# job under nohup): later callers may not.
	with_ignored('INT HUP', $script);
	for my $caller (['default', ''], ['INT ignored', 'INT']) {
		my ($label, $ignore) = @$caller;
		my $run = sub { return with_ignored($ignore, @_) };
		my $want = $run->('perl', $script);
		is($want->{status}, 0, "$name, caller $label: standalone ran") or diag $want->{err};
		my @bad;
		for my $i (1 .. 10) {
			my $got = $run->($script);
			push @bad, "call $i: status $got->{status}: $got->{err}\n$got->{out}"
				if $got->{status} != 0 || $got->{out} ne $want->{out};
		}
		is("@bad", '', "$name, caller $label: %SIG as standalone in 10 calls")
			or diag "standalone:\n$want->{out}";
	}
	ok(server_pid_of($script), "$name: those calls were served by a server");
	kill_servers($env);
}

done_testing;
