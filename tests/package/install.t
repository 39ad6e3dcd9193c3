# meson install --destdir installs everything a user needs, where the
# configuration says: the client at the '#!' path (stripped unless
# -Dstrip=false), the whole Perl module tree, both manual pages, the
# documents and the example; and the installed pair runs a script.
use strict;
use warnings;
use Test::More;
use File::Find qw(find);
use File::Temp qw(tempdir);
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;

my $src = $ENV{PFI_SOURCE_ROOT};
my $want = $ENV{PFI_PROJECT_VERSION};
my $shebang = $ENV{PFI_SHEBANG_PATH};
my $destdir = tempdir('install-XXXXXX', DIR => $ENV{PFI_BUILD_ROOT}, CLEANUP => 1);

my $out = `meson install -C '$ENV{PFI_BUILD_ROOT}' --quiet --destdir '$destdir' 2>&1`;
is($?, 0, 'meson install --destdir') or BAIL_OUT("meson install failed: $out");

my $client = "$destdir$shebang";
ok(-x $client, "the client is installed at the '#!' path $shebang");
my $help = `'$client' --help`;
like($help, qr/^  in a script:  #!\Q$shebang\E -U,perl/m, '--help shows that path');
like(`'$client' --version`, qr/^expects Proc::Prefork::Interp \Q$want\E /m,
     '--version names the module version');
SKIP: {
	skip 'built with -Dstrip=false', 1 unless $ENV{PFI_STRIP};
	my $sections = `readelf -S '$client' 2>&1`;
	unlike($sections, qr/\.symtab/, 'the client is stripped (no .symtab)');
}

# Manual pages, rendered by man when it is there.
my $man1 = "$destdir$ENV{PFI_MANDIR}/man1/prefork-interp-hardened.1";
my $man3 = "$destdir$ENV{PFI_MANDIR}/man3/Proc::Prefork::Interp.3pm";
ok(-f $man1, 'prefork-interp-hardened(1) installed');
ok(-f $man3, 'Proc::Prefork::Interp(3pm) installed');
SKIP: {
	skip 'man (man-db) is not installed', 3 unless -x '/usr/bin/man';
	my $page = `MANWIDTH=80 man -l '$man1' 2>&1`;
	like($page, qr/^NAME\n\s+prefork-interp-hardened - /m, 'man page 1 renders');
	like($page, qr/#!\Q$shebang\E -U,perl/, "man page 1 names the '#!' path");
	like(`MANWIDTH=80 man -l '$man3' 2>&1`, qr/our \$table/, 'man page 3pm renders its SYNOPSIS (with our)');
}

# Documents and the example, its '#!' line naming the installed client.
my $doc = "$destdir$ENV{PFI_DOCDIR}";
ok(-f "$doc/$_", "document $_ installed") for qw(README.md SECURITY.md NEWS design.md sandbox.md);
open my $ex, '<', "$doc/examples/hello.pl" or die "$doc/examples/hello.pl: $!";
is(scalar <$ex>, "#!$shebang -U,perl\n", "the example's '#!' line names $shebang");
close $ex;

# The module: every file of perl/lib, unchanged.
my $pmdir = $ENV{PFI_PERL_MODULE_DIR};
SKIP: {
	skip 'built with -Dperl_module=none', 2 unless $pmdir;
	my @files;
	find({ no_chdir => 1, wanted => sub { push @files, $_ if -f } }, "$src/perl/lib");
	my @missing = grep {
		(my $rel = $_) =~ s{^\Q$src/perl/lib/\E}{};
		system('cmp', '-s', $_, "$destdir$pmdir/$rel") != 0;
	} @files;
	is("@missing", '', "all " . scalar(@files) . " files of perl/lib installed under $pmdir");
	SKIP: {
		skip 'perldoc needs perl-doc (./setup-and-demo installs it)', 1
			if `perldoc -h 2>&1` =~ /install the perl-doc package/;
		local $ENV{PERL5LIB} = "$destdir$pmdir";
		# -U: as root perldoc would switch to nobody, who cannot read the
		# private temporary directory.
		like(`perldoc -U -l Proc::Prefork::Interp 2>&1`, qr/^\Q$destdir$pmdir\E/m,
		     'perldoc finds the installed module');
	}
}

# A script naming the installed client runs, through one warm server.
SKIP: {
	skip 'built with -Dperl_module=none', 5 unless $pmdir;
	my $env = new_env();
	local $ENV{PERL5LIB} = "$destdir$pmdir";
	my $script = "$env->{dir}/installed.pl";
	open my $fh, '>', $script or die $!;
	print $fh "#!$client -U,perl\n", <<'EOS';
use strict;
use Proc::Prefork::Interp;
our $boot = $$;
prefork_initialisation_complete();
print "boot=$boot module=$INC{'Proc/Prefork/Interp.pm'} args=@ARGV\n";
EOS
	close $fh;
	chmod 0755, $script;
	my $r1 = run_call([$script, 'one'], dir => $env->{dir});
	is($r1->{status}, 0, 'a script naming the installed client runs') or diag $r1->{err};
	like($r1->{out}, qr/module=\Q$destdir$pmdir\E\S+ args=one$/, '... with the installed module');
	my $r2 = run_call([$script, 'two'], dir => $env->{dir});
	my ($b1) = $r1->{out} =~ /boot=(\d+)/;
	my ($b2) = $r2->{out} =~ /boot=(\d+)/;
	ok(defined $b1 && defined $b2 && $b1 == $b2, '... and its second call is served by the same server')
		or diag "first: $r1->{out}second: $r2->{out}$r2->{err}";
	is(run_call([$client, '--kill,-U,perl', $script], dir => $env->{dir})->{status}, 0,
	   '--kill exits 0');
	# (--kill also exits 0 when it found nothing to stop)
	ok(wait_processes_gone($script, 10), '--kill stopped the server')
		or diag 'left: ' . join ' ', processes_matching($script);
}

done_testing;
