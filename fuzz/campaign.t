# The CI fuzz campaign (.ci/fuzz-campaign.sh), run briefly on one cheap
# harness in a scratch copy of the tree:
#   - with FUZZ_CORPUS_CACHE it reads the cache and merges what it found
#     into it, so the corpus grows from one CI run to the next;
#   - it reports line, branch and function coverage per harness;
#   - it runs the Perl decoder's differential fuzzer;
#   - `--merge SECONDS --commit` minimises fuzz/corpus/<name> (seed-* and
#     regress-* files kept, a file adding no coverage dropped) and
#     commits fuzz/corpus alone.
use strict;
use warnings;
use File::Temp qw(tempdir);
use File::Copy qw(copy);
use Test::More;

my $src = $ENV{PFI_SOURCE_ROOT} // die "PFI_SOURCE_ROOT not set (run via meson test)\n";
sub have { grep { -x "$_/$_[0]" } split /:/, $ENV{PATH} }
plan skip_all => 'clang is not installed (the campaign builds with it)' unless have('clang');
plan skip_all => 'git is not installed' unless have('git');
{
	my $t = tempdir(CLEANUP => 1);
	open my $f, '>', "$t/t.c" or die $!;
	print $f "#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return d && n ? 0 : 0; }\n";
	close $f;
	system("clang -fsanitize=fuzzer $t/t.c -o $t/t >/dev/null 2>&1") == 0
		or plan skip_all => 'clang cannot link libFuzzer here (libclang-rt-14-dev missing?)';
}
my $have_cov = (have('llvm-cov') || have('llvm-cov-14'))
	&& (have('llvm-profdata') || have('llvm-profdata-14'));

my $tree = tempdir('pfi-campaign-XXXXXX', TMPDIR => 1, CLEANUP => 1);
system('cp', '-a', "$src/src", "$src/fuzz", "$src/.ci", "$src/perl",
       "$src/python", "$tree/") == 0 or die "copy failed\n";
my $corpus = "$tree/fuzz/corpus/status";
copy("$corpus/seed-exit-0", "$corpus/0000redundant") or die $!;   # same bytes as a seed
copy("$corpus/seed-sigterm", "$corpus/regress-kept") or die $!;
sub git { system('git', '-C', $tree, '-c', 'user.name=t', '-c', 'user.email=t@t', @_) == 0 or die "git @_ failed\n" }
git('init', '-q');
git('add', '-A');
git('commit', '-q', '-m', 'scratch');

my $cache = "$tree/cache";
sub campaign {
	my (@args) = @_;
	local $ENV{FUZZ_TARGETS} = 'status';
	local $ENV{FUZZ_SECONDS} = 2;
	local $ENV{FUZZ_AFL_SECONDS} = 0;
	local $ENV{FUZZ_PERL_SECONDS} = 2;
	local $ENV{FUZZ_CORPUS_CACHE} = $cache;
	local $ENV{GIT_AUTHOR_NAME} = local $ENV{GIT_COMMITTER_NAME} = 't';
	local $ENV{GIT_AUTHOR_EMAIL} = local $ENV{GIT_COMMITTER_EMAIL} = 't@t';
	my $out = `cd '$tree' && .ci/fuzz-campaign.sh @args '$tree/build-fuzz' 2>&1`;
	return ($? >> 8, $out);
}
sub files { opendir my $d, $_[0] or return (); sort grep { -f "$_[0]/$_" } readdir $d }

my ($rc, $out) = campaign();
is($rc, 0, 'first run is clean') or diag $out;
my @cached = files("$cache/status");
ok(@cached > 0, 'the cache holds what the run found (' . scalar(@cached) . ' files)');
like($out, qr/cache status: 0 -> \d+ files/, 'the run says how the cache grew');
if ($have_cov) {
	like($out, qr/^status\s+src\/protocol\.c\s+\d+\.\d%\s+\d+\.\d%\s+\d+\/\d+\s+\d+$/m,
	     'coverage of the status harness: lines, branches, functions, inputs');
	ok(-s "$tree/build-fuzz/logs/coverage.txt", 'and the report is kept in the logs');
} else {
	like($out, qr/coverage report skipped: llvm-cov/, 'without llvm-cov the report says it is skipped');
}

like($out, qr/^fuzz_request\.pl: \d+ inputs .*no disagreement$/m,
     'the Perl request decoder is fuzzed against the C one');

# A second run starts from the cache: libFuzzer reads it as corpus.
($rc, $out) = campaign();
is($rc, 0, 'second run is clean') or diag $out;
my $log = do { local $/; open my $f, '<', "$tree/build-fuzz/logs/libfuzzer-status.log" or die $!; <$f> };
like($log, qr/\Q$cache\/status\E|INFO: +\d+ files found in \S*cache\/status/,
     'the second run reads the cache');
my @cached2 = files("$cache/status");
cmp_ok(scalar @cached2, '>=', scalar @cached, 'the cache never shrinks');
is(`git -C '$tree' status --porcelain -- fuzz`, '', 'CI runs leave fuzz/corpus untouched');

($rc, $out) = campaign('--merge', 2, '--commit');
is($rc, 0, '--merge --commit is clean') or diag $out;
my @after = files($corpus);
ok((grep { $_ eq 'seed-exit-0' } @after) && (grep { $_ eq 'regress-kept' } @after),
   'seed-* and regress-* files are kept');
ok(!grep({ $_ eq '0000redundant' } @after), 'a file that adds no coverage is minimised away');
ok(!grep({ !/^(seed-|regress-|[0-9a-f]{40}$)/ } @after), 'merged files are named by their SHA-1');
my @changed = split /\n/, `git -C '$tree' show --name-only --format= HEAD`;
ok(@changed > 0 && !grep({ !m{^fuzz/corpus/} } @changed), 'the commit holds fuzz/corpus only')
	or diag "@changed";
like(`git -C '$tree' log -1 --format=%s`, qr/^fuzz: corpus merged and minimised/, 'with a message that says so');
is(`git -C '$tree' status --porcelain -- fuzz`, '', 'nothing left uncommitted');

done_testing();
