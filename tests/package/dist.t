# The CPAN-style distribution of the module is complete: MANIFEST lists
# every file of perl/ that MANIFEST.SKIP does not exclude (so a package
# file added to the module without a MANIFEST line fails here), and
# 'make dist' builds Proc-Prefork-Interp-VERSION with its META files,
# which builds and passes its own tests unpacked.
# Run in a copy, so the source tree stays clean.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);

my $src = $ENV{PFI_SOURCE_ROOT} // die "run via meson test\n";
my $want = $ENV{PFI_PROJECT_VERSION};
plan skip_all => "'make' is not installed (Debian: make; ./setup-tests installs it)"
	unless grep { -x "$_/make" } split /:/, $ENV{PATH};

my $tmp = tempdir('dist-XXXXXX', DIR => $ENV{PFI_BUILD_ROOT}, CLEANUP => 1);
system('cp', '-a', "$src/perl", "$tmp/perl") == 0 or BAIL_OUT("cp -a $src/perl failed");
chdir "$tmp/perl" or die $!;
# Products of an in-tree build would be skipped anyway; start clean.
system('rm', '-rf', 'Makefile', 'MYMETA.json', 'MYMETA.yml', 'blib', 'pm_to_blib');

sub run {
	my $out = `@_ 2>&1`;
	return ($? == 0, $out);
}

my ($ok, $out) = run('perl Makefile.PL');
ok($ok, 'perl Makefile.PL') or diag $out;
unlike($out, qr/Warning|not found/i, 'Makefile.PL: no warnings, no missing prerequisites') or diag $out;

($ok, $out) = run('make distcheck');
ok($ok, 'make distcheck runs') or diag $out;
unlike($out, qr/^Not in MANIFEST/m, 'every file is in MANIFEST') or diag $out,
	"fix: cd perl && perl Makefile.PL && make manifest (or add them to perl/MANIFEST.SKIP)";
unlike($out, qr/^No such file/m, 'every MANIFEST entry exists') or diag $out;

($ok, $out) = run('make dist');
ok($ok, 'make dist') or diag $out;
my $tarball = "Proc-Prefork-Interp-$want.tar.gz";
ok(-f $tarball, "make dist built $tarball") or diag $out;
my $meta = `tar -xzOf $tarball Proc-Prefork-Interp-$want/META.json 2>&1`;
like($meta, qr/"version" : "v?\Q$want\E"/, 'META.json carries the version');
like($meta, qr/"resources" : \{.*"license"/s, 'META.json has resources');
like($meta, qr/"IO::FDPass"/, 'META.json lists the prerequisites');
my @files = split /\n/, `tar -tzf $tarball`;
for my $f (qw(Changes README MANIFEST Makefile.PL lib/Proc/Prefork/Interp.pm)) {
	ok((grep { $_ eq "Proc-Prefork-Interp-$want/$f" } @files), "the tarball has $f");
}
ok(!(grep { m{/meson\.build$} } @files), 'the tarball has no meson.build');

# What a CPAN user does with the tarball: build it and run its tests
# (README "Installing"), with nothing of this tree on the way.
mkdir 'unpacked' or die $!;
($ok, $out) = run("tar -xzf $tarball -C unpacked");
ok($ok, 'the tarball unpacks') or diag $out;
chdir "unpacked/Proc-Prefork-Interp-$want" or die $!;
{
	local $ENV{PERL5LIB};
	($ok, $out) = run('perl Makefile.PL && make && make test');
}
ok($ok, 'the unpacked distribution builds and passes make test') or diag $out;

chdir '/';
done_testing;
