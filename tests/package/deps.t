# Every module the Perl side loads that perl itself does not ship is
# declared wherever an install route reads its prerequisites: the CPAN
# distribution (perl/Makefile.PL), the Debian package's Depends
# (debian/control) and the module's README (perl/README, DEPENDENCIES).
# A prerequisite missing from one of them installs a module that dies
# at its first "use" (README "Installing").
use strict;
use warnings;
use Test::More;
use File::Find qw(find);
use Module::CoreList;

my $src = $ENV{PFI_SOURCE_ROOT} // die "run via meson test\n";

sub slurp { my ($f) = @_; open my $fh, '<', $f or die "$f: $!"; local $/; return <$fh> }

# The modules the code (not its POD examples) loads.
my %used;
find({ no_chdir => 1, wanted => sub {
	return unless /\.pm\z/;
	my $code = slurp($_);
	$code =~ s/^=[a-z].*?(?:^=cut\b|\z)//msg;
	$used{$1} = 1 while $code =~ /^\s*(?:use|require)\s+([A-Z]\w*(?:::\w+)*)/mg;
} }, "$src/perl/lib");
my @needed = sort grep { !/^Proc::Prefork::Interp\b/ && !Module::CoreList->is_core($_) } keys %used;
cmp_ok(scalar @needed, '>=', 1, 'found the non-core modules the code loads: ' . join(' ', @needed));

my $makefile = slurp("$src/perl/Makefile.PL");
my ($prereqs) = $makefile =~ /PREREQ_PM\s*=>\s*\{(.*?)\}/s;
ok(defined $prereqs, 'perl/Makefile.PL has PREREQ_PM');
$prereqs //= '';

my $control = slurp("$src/debian/control");
my ($stanza) = $control =~ /^(Package: libproc-prefork-interp-perl\n.*?)(?:\n\n|\z)/ms;
ok(defined $stanza, 'debian/control has the module package');
my ($depends) = ($stanza // '') =~ /^Depends:(.*(?:\n[ \t].*)*)/m;
$depends //= '';

my ($readme_deps) = slurp("$src/perl/README") =~ /^DEPENDENCIES\n(.*?)\n[A-Z]{4,}/ms;
$readme_deps //= '';

for my $module (@needed) {
	# Debian names a module's package lib<name with :: as ->-perl.
	my $package = 'lib' . lc($module =~ s/::/-/gr) . '-perl';
	like($prereqs, qr/'\Q$module\E'\s*=>/, "Makefile.PL PREREQ_PM names $module");
	like($depends, qr/(?:^|[\s,])\Q$package\E\b/, "the Debian package depends on $package ($module)");
	like($readme_deps, qr/\Q$module\E/, "perl/README DEPENDENCIES names $module");
}

done_testing;
