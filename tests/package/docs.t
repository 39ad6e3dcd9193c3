# Every option the client's --help lists is documented in its manual
# page (docs/prefork-interp-hardened.pod) and in the README's option
# table, and all three name the same '#!' path: one place to forget is
# caught here, not by a user.
use strict;
use warnings;
use Test::More;

my $src = $ENV{PFI_SOURCE_ROOT} // die "run via meson test\n";
my $shebang = $ENV{PFI_SHEBANG_PATH};

sub slurp { my ($f) = @_; open my $fh, '<', $f or die "$f: $!"; local $/; return <$fh> }

my $help = `'$ENV{PFI_CLIENT}' --help`;
is($?, 0, '--help exits 0');
my @options = $help =~ /^  (--?[A-Za-z][-A-Za-z]*)/mg;    # --fallback=... counts as --fallback
cmp_ok(scalar @options, '>=', 5, 'found the options in --help: ' . join(' ', @options));

my $pod = slurp("$src/docs/prefork-interp-hardened.pod");
my $readme = slurp("$src/README.md");
my ($table) = $readme =~ /^## Client usage\n(.*?)^## /ms;
ok(defined $table, 'README has a "Client usage" section');
$table //= '';
for my $opt (@options) {
	like($pod, qr/^=item B<\Q$opt\E>/m, "manual page documents $opt");
	like($table, qr/^\| [^|]*`\Q$opt\E[ `=]/m, "README option table documents $opt");
}

# Every option the parser accepts is in --help: the options' words in
# src/options.c ("--name" compared, 'c' cases of the short options).
my $parser = slurp("$src/src/options.c");
my @long = $parser =~ /(?:strcmp|strncmp)\(word, "(--[a-z-]+)=?"/g;
my ($short_switch) = $parser =~ /static int short_options\(.*?\n\}\n/s ? ($&) : ('');
my @short = map { "-$_" } $short_switch =~ /case '([A-Za-z])':/g;
cmp_ok(scalar(@long) + scalar(@short), '>=', 10, 'found the parser\'s options: ' . join(' ', @long, @short));
for my $opt (@long, @short) {
	like($help, qr/^  (?:[^\n]*[ ,])?\Q$opt\E\b/m, "--help lists $opt, which the parser accepts");
}

# The environment variables the client reads, and where it looks for a
# run directory (src/rundir.c), are in the manual page and --help.
for my $var (qw(PREFORK_INTERP_RUN_DIR PREFORK_INTERP_FALLBACK)) {
	like($pod, qr/^=head1 ENVIRONMENT\n(?:(?!^=head1).)*^=item B<\Q$var\E>/ms,
	     "manual page ENVIRONMENT lists $var");
	like($help, qr/\$\Q$var\E/, "--help names \$$var");
}
my ($files) = $pod =~ /^=head1 FILES\n(.*?)^=head1/ms;
$files //= '';
for my $candidate (qw(/run/user/ .prefork-interp/ /run/prefork-interp/)) {
	like($files =~ s/[A-Z]<([^<>]*)>/$1/gr, qr/\Q$candidate\E/, "manual page FILES names the run directory $candidate");
}
like($help, qr{/run/user/UID/prefork-interp.*HOME/\.prefork-interp/HOSTNAME.*/run/prefork-interp/UID}s,
     '--help names the three default run directories as README does');

# python/README.md lists the shared suites that run with Python scripts
# as tests/meson.build registers them.
my $meson_tests = slurp("$src/tests/meson.build");
my ($python_list) = $meson_tests =~ /foreach name : \[([^\]]*)\]\n\s*test\('python-integration-'/s;
my @python_integration = ($python_list // '') =~ /'(\w+)'/g;
cmp_ok(scalar @python_integration, '>=', 1, 'found the python-integration tests in tests/meson.build');
my ($readme_list) = slurp("$src/python/README.md") =~ /`python-integration-\{([^}]*)\}`/;
is(join(',', sort split /,/, $readme_list // ''), join(',', sort @python_integration),
   'python/README.md lists the python-integration tests tests/meson.build registers');

# The module's POD names each of its packages under INTERNALS, where a
# contributor looks for where a change goes.
my ($internals) = slurp("$src/perl/lib/Proc/Prefork/Interp.pm") =~ /^=head1 INTERNALS\n(.*?)^=head1/ms;
$internals //= '';
opendir my $dh, "$src/perl/lib/Proc/Prefork/Interp" or die "perl/lib/Proc/Prefork/Interp: $!";
for my $package (sort map { /^(\w+)\.pm\z/ ? $1 : () } readdir $dh) {
	like($internals, qr/(?:^=item |B<)\Q$package\E\b/m, "POD INTERNALS names Proc::Prefork::Interp::$package");
}

# The '#!' path: --help says the configured one; the documents say the
# default, which the manual page gets substituted at build time.
like($help, qr/#!\Q$shebang\E -U,perl/, "--help names $shebang");
like($pod, qr/^    #!\@SHEBANG_PATH\@ -U,perl$/m, "the manual page's SYNOPSIS uses the configured path");
my $default = '/usr/bin/prefork-interp-hardened';
for my $doc ('README.md', 'perl/lib/Proc/Prefork/Interp.pm', 'perl/README', 'examples/hello.pl') {
	my $text = slurp("$src/$doc");
	my @lines = $text =~ /^\s*(#!\S*prefork-interp\S*)/mg;
	ok(@lines, "$doc has a '#!' line");
	is(join(' ', grep { $_ ne "#!$default" } @lines), '', "$doc: every '#!' line names $default");
}

done_testing;
