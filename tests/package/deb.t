# The Debian packages build from a copy of the source (dpkg-buildpackage
# -us -uc -b), pass lintian (apart from the overrides justified in
# debian/), install beside chiark-utils-bin and chiark-scripts without
# touching their files, and each '#!' line runs the client it names:
# /usr/bin/prefork-interp-hardened is ours, /usr/bin/prefork-interp
# chiark-utils'.  Packages this test installed are purged at the end.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use IPC::Open2 qw(open2);
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;

my $src = $ENV{PFI_SOURCE_ROOT};
my $want = $ENV{PFI_PROJECT_VERSION};
my @ours = qw(prefork-interp-hardened libproc-prefork-interp-perl);
my $our_client = '/usr/bin/prefork-interp-hardened';
my $chiark_client = '/usr/bin/prefork-interp';

sub have { my ($p) = @_; grep { -x "$_/$p" } split /:/, $ENV{PATH} }
sub installed {
	my ($pkg) = @_;
	my $status = `dpkg-query -W -f='\${Status}' $pkg 2>/dev/null`;
	return $status =~ /ok installed/ ? 1 : 0;    # scalar: used in lists
}
plan skip_all => 'needs root (dpkg -i)' if $> != 0;
plan skip_all => "dpkg-buildpackage is missing (Debian: dpkg-dev; ./setup-tests installs it)"
	unless have('dpkg-buildpackage');
plan skip_all => "debhelper is missing (./setup-tests installs it)" unless have('dh');

# A copy of the source: the files git knows (with uncommitted changes),
# or, outside git, the tree without build products.
my $tmp = tempdir('deb-XXXXXX', DIR => $ENV{PFI_BUILD_ROOT}, CLEANUP => 1);
my $copy = "$tmp/prefork-interp-hardened-$want";
mkdir $copy or die "$copy: $!";
my $list = -e "$src/.git"
	? "git -C '$src' ls-files -co --exclude-standard -z | tar -C '$src' --null -T - -cf -"
	: "tar -C '$src' --exclude='./build*' --exclude=./perl/blib --exclude=./perl/Makefile -cf - .";
system("$list | tar -C '$copy' -xf -") == 0 or BAIL_OUT('copying the source failed');

my $deps = `cd '$copy' && dpkg-checkbuilddeps 2>&1`;
plan skip_all => "build dependencies missing (./setup-tests installs them): $deps" if $?;

my $log = "$tmp/build.log";
my $rc = system("cd '$copy' && dpkg-buildpackage -us -uc -b >'$log' 2>&1");
ok($rc == 0, 'dpkg-buildpackage -us -uc -b') or do {
	diag `tail -40 '$log'`;
	BAIL_OUT('the package did not build');
};
my %deb = map { $_ => "$tmp/${_}_${want}_" . `dpkg --print-architecture` =~ s/\s+//r . '.deb' } @ours;
ok(-f $deb{$_}, "built $_") for @ours;

# What each package holds, and that neither holds a file of chiark's.
my %files;
for my $p (@ours) {
	$files{$p} = [map { (split ' ', $_, 6)[5] =~ s/^\.//r } split /\n/, `dpkg-deb -c '$deb{$p}'`];
}
ok((grep { $_ eq $our_client } @{ $files{'prefork-interp-hardened'} }), "client package: $our_client");
ok((grep { m{^/usr/share/man/man1/prefork-interp-hardened\.1\.gz$} } @{ $files{'prefork-interp-hardened'} }),
   'client package: its manual page');
ok((grep { m{^/usr/share/doc/prefork-interp-hardened/(design\.md|examples/hello\.pl)} }
    @{ $files{'prefork-interp-hardened'} }) == 2, 'client package: design document and example');
my $vendorarch = `perl -MConfig -e 'print \$Config{vendorarch}'`;
ok((grep { $_ eq "$vendorarch/Proc/Prefork/Interp.pm" } @{ $files{'libproc-prefork-interp-perl'} }),
   "module package: Proc/Prefork/Interp.pm in $vendorarch");
ok((grep { m{^/usr/share/man/man3/Proc::Prefork::Interp\.3pm\.gz$} } @{ $files{'libproc-prefork-interp-perl'} }),
   'module package: its manual page');
my @chiark_files = grep { -f } map { chomp; $_ } `dpkg -L chiark-utils-bin chiark-scripts 2>/dev/null`;
my %ours = map { $_ => 1 } map { @$_ } values %files;
is(join(' ', grep { $ours{$_} } @chiark_files), '', 'no file of chiark-utils-bin or chiark-scripts in our packages');

SKIP: {
	skip 'lintian is missing (./setup-tests installs it)', 1 unless have('lintian');
	my $changes = "$tmp/prefork-interp-hardened_${want}_" . `dpkg --print-architecture` =~ s/\s+//r . '.changes';
	my $out = `lintian '$changes' 2>&1`;
	is(join("\n", grep { /^[EW]: / } split /\n/, $out), '',
	   'lintian: no errors or warnings (overrides in debian/*.lintian-overrides)') or diag $out;
}

# Install beside chiark-utils.
my %was_installed = map { $_ => installed($_) } @ours;
my $chiark = installed('chiark-utils-bin') && installed('chiark-scripts');
# dpkg, waiting out another user of the dpkg lock (apt on a shared
# machine) for up to two minutes; returns (success, output).
sub dpkg_run {
	my ($args) = @_;
	my $out;
	for my $try (1 .. 7) {
		$out = `dpkg $args 2>&1`;
		return (1, $out) if $? == 0;
		last unless $out =~ /dpkg frontend lock|lock-frontend|dpkg status database is locked/;
		sleep 20;
	}
	return (0, $out);
}
my ($ok, $out) = dpkg_run("-i $deb{'prefork-interp-hardened'} $deb{'libproc-prefork-interp-perl'}");
ok($ok, 'dpkg -i installs both packages') or diag $out;
# Leave the machine as found: purge what this test installed (at the
# end, or on the way out if a test bails out before).
sub purge_ours {
	my @purge = grep { !$was_installed{$_} && installed($_) } @ours;
	return 1 unless @purge;
	my ($ok, $out) = dpkg_run("--purge @purge");
	diag $out unless $ok;
	return $ok;
}
END { local $?; purge_ours() if $> == 0 && %was_installed }    # keep the exit status
is(`dpkg -S $our_client 2>&1` =~ s/:.*//sr, 'prefork-interp-hardened', "$our_client belongs to our package");
SKIP: {
	skip 'chiark-utils-bin and chiark-scripts are not installed (./setup-tests installs them)', 2 unless $chiark;
	is(`dpkg -S $chiark_client 2>&1` =~ s/:.*//sr, 'chiark-utils-bin', "$chiark_client still belongs to chiark-utils-bin");
	is(`dpkg --verify chiark-utils-bin chiark-scripts 2>&1`, '', "chiark-utils-bin's and chiark-scripts' files are unchanged");
}
SKIP: {
	skip 'man (man-db) is not installed', 2 unless have('man');
	is(`man -w prefork-interp-hardened 2>&1`, "/usr/share/man/man1/prefork-interp-hardened.1.gz\n", 'man prefork-interp-hardened');
	is(`man -w Proc::Prefork::Interp 2>&1`, "/usr/share/man/man3/Proc::Prefork::Interp.3pm.gz\n", 'man Proc::Prefork::Interp');
}
like(`perl -MProc::Prefork::Interp -e 'print \$INC{"Proc/Prefork/Interp.pm"}, " ", Proc::Prefork::Interp->VERSION' 2>&1`,
     qr{^\Q$vendorarch\E/Proc/Prefork/Interp\.pm \Q$want\E$}, "'use Proc::Prefork::Interp' loads the packaged module $want");

# Each '#!' line runs the client it names.  The script's per-call code
# says it is running and waits for a line; meanwhile the process we
# started is the client (the kernel ran the '#!' interpreter in it), so
# /proc/PID/exe shows which one.
my $env = new_env();
delete $ENV{PERL5LIB};    # the installed module, as a user would have it
my $body = <<'EOS';
use strict;
use Proc::Prefork::Interp;
our $boot = $$;
prefork_initialisation_complete();
$| = 1;
print "running\n";
my $line = <STDIN>;
print "boot=$boot module=$INC{'Proc/Prefork/Interp.pm'} got=$line";
EOS

sub which_client {
	my ($script) = @_;
	my $pid = open2(my $out, my $in, $script);
	my $first = <$out> // '';
	my $exe = readlink("/proc/$pid/exe") // "(unreadable: $!)";
	print $in "hello\n";
	close $in;
	my $rest = do { local $/; <$out> } // '';
	waitpid $pid, 0;
	return { exe => $exe, ready => $first, out => $rest, status => $? };
}

my @cases = (['ours', $our_client, sub { [$our_client, '--kill,-U,perl', $_[0]] }]);
push @cases, ['chiark', $chiark_client, sub { [$chiark_client, '--kill', '-U', 'perl', $_[0]] }] if $chiark;
for my $case (@cases) {
	my ($name, $path, $kill) = @$case;
	my $script = "$env->{dir}/$name.pl";
	open my $fh, '>', $script or die $!;
	print $fh "#!$path -U,perl\n$body";
	close $fh;
	chmod 0755, $script;
	my @boots;
	for my $n (1, 2) {
		my $r = which_client($script);
		is($r->{exe}, $path, "'#!$path' runs $path (call $n)");
		note "#!$path: client $r->{exe}, " . ($r->{out} =~ s/\s+$//r);
		is($r->{status}, 0, "'#!$path': call $n ends with status 0");
		like($r->{out}, qr{module=\Q$vendorarch\E/Proc/Prefork/Interp\.pm got=hello$},
		     "'#!$path': call $n is served by the packaged module (first in \@INC)");
		push @boots, $r->{out} =~ /boot=(\d+)/;
	}
	ok(@boots == 2 && $boots[0] == $boots[1], "'#!$path': the second call reuses the server");
	run_call($kill->($script), dir => $env->{dir});
	ok(wait_processes_gone($script, 10), "'#!$path': --kill stopped the server");
}
ok(purge_ours(), 'our packages purge cleanly');
ok(!-e $our_client, "$our_client is gone with them") unless $was_installed{'prefork-interp-hardened'};
SKIP: {
	skip 'chiark-utils-bin and chiark-scripts are not installed', 1 unless $chiark;
	is(`dpkg --verify chiark-utils-bin chiark-scripts 2>&1`, '', "chiark-utils' files are still unchanged");
}

done_testing;
