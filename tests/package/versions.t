# One version everywhere: meson.build, every Perl package that declares
# $VERSION, the module's Changes, the top-level NEWS, debian/changelog,
# the Python package when there is one, and what the client reports.
use strict;
use warnings;
use Test::More;
use ExtUtils::MakeMaker ();
use File::Find qw(find);

my $src = $ENV{PFI_SOURCE_ROOT} // die "run via meson test\n";
my $want = $ENV{PFI_PROJECT_VERSION};
like($want, qr/^\d+\.\d+\.\d+$/, "meson.build's version ($want) is MAJOR.MINOR.PATCH");

sub first_line_matching {
	my ($file, $re) = @_;
	open my $fh, '<', $file or return "(cannot read $file: $!)";
	while (<$fh>) { return $1 if $_ =~ $re }
	return "(no version line in $file)";
}

my @pm;
find({ no_chdir => 1, wanted => sub { push @pm, $_ if /\.pm$/ } }, "$src/perl/lib");
ok(@pm, 'found the module files');
for my $pm (sort @pm) {
	my $v = MM->parse_version($pm);
	(my $rel = $pm) =~ s{^\Q$src/\E}{};
	next if !defined $v || $v eq 'undef';    # a package without $VERSION
	is($v, $want, "$rel: \$VERSION");
}
is(MM->parse_version("$src/perl/lib/Proc/Prefork/Interp.pm"), $want,
   'the API module declares $VERSION');

is(first_line_matching("$src/perl/Changes", qr/^(\d\S*)\s/), $want, 'perl/Changes: newest entry');
is(first_line_matching("$src/NEWS", qr/^(\d\S*)\s/), $want, 'NEWS: newest entry');
is(first_line_matching("$src/debian/changelog", qr/^\S+ \(([^)-]+)/), $want,
   'debian/changelog: newest entry (upstream part)');

# The Python side, once it is there: its packaging and __version__.
for my $py (grep { -f } "$src/python/pyproject.toml", "$src/python/setup.cfg") {
	(my $rel = $py) =~ s{^\Q$src/\E}{};
	is(first_line_matching($py, qr/^version\s*=\s*["']?([^"'\s]+)/), $want, "$rel: version");
}
for my $init (glob "$src/python/*/__init__.py") {
	(my $rel = $init) =~ s{^\Q$src/\E}{};
	my $v = first_line_matching($init, qr/^__version__\s*=\s*["']([^"']+)/);
	is($v, $want, "$rel: __version__") unless $v =~ /^\(no version line/;
}

my $out = `'$ENV{PFI_CLIENT}' --version`;
is($?, 0, 'client --version exits 0');
like($out, qr/^prefork-interp-hardened \Q$want\E /m, 'client --version: its own version');
like($out, qr/^expects Proc::Prefork::Interp \Q$want\E /m, 'client --version: the module version it expects');

done_testing;
