# The policy generator: the real policy compiles to a table with every
# listed call; a typo or an unexplained line fails with a message that
# names the file and line.  The build runs this same generator on
# policy/client.policy, so these failures are build failures.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use File::Temp qw(tempdir);
use Test::More;

my $gen = policy_gen();
my $dir = tempdir(CLEANUP => 1);

sub generate {
	my ($text) = @_;
	open my $fh, '>', "$dir/in.policy" or die $!;
	print $fh $text;
	close $fh;
	unlink "$dir/out.c";
	my $err = `'$gen' policy/test.policy '$dir/in.policy' '$dir/out.c' tbl 2>&1`;
	return ($? >> 8, $err);
}

# The real policy: every entry becomes a SCMP_SYS() row.
my ($rc, $err) = (system($gen, 'policy/client.policy', policy_file(),
			 "$dir/real.c", 'pfi_client_policy') >> 8, '');
is($rc, 0, 'policy/client.policy generates');
my $c = do { open my $f, '<', "$dir/real.c" or die $!; local $/; <$f> };
for my $name (policy_syscalls()) {
	like($c, qr/\{ "\Q$name\E", SCMP_SYS\(\Q$name\E\), \d+,/, "table has $name");
}
like($c, qr/"kill", SCMP_SYS\(kill\), \d+, 1, \{ \{ 0, SCMP_CMP_EQ, PFI_BPF_PID,/,
     'kill is limited to arg0 == own pid');
for my $name (qw(read sendto sendmsg)) {
	like($c, qr/"$name", SCMP_SYS\($name\), \d+, \d+, \{ \{ 0, SCMP_CMP_EQ, PFI_BPF_SOCK,/,
	     "$name is limited to arg0 == the call socket");
}
like($c, qr/"sendto", [^\n]*\{ 3, SCMP_CMP_EQ, PFI_BPF_NONE, [^}]*\(MSG_NOSIGNAL\) \}, \{ 4, SCMP_CMP_EQ, PFI_BPF_NONE, [^}]*\(0\) \}/,
     'sendto: flags MSG_NOSIGNAL, no destination address');
like($c, qr/"sendmsg", [^\n]*\{ 2, SCMP_CMP_EQ, PFI_BPF_NONE, [^}]*\(MSG_NOSIGNAL\) \}/,
     'sendmsg: flags MSG_NOSIGNAL');
like($c, qr/"mmap", [^\n]*\{ 3, SCMP_CMP_MASKED_EQ, PFI_BPF_NONE, \(scmp_datum_t\)\(MAP_TYPE\|MAP_ANONYMOUS\|MAP_FIXED\|MAP_FIXED_NOREPLACE\), \(scmp_datum_t\)\(MAP_PRIVATE\|MAP_ANONYMOUS\) \}/,
     'mmap: private anonymous, not fixed');
like($c, qr/"write", SCMP_SYS\(write\), \d+, 1, \{ \{ 0, SCMP_CMP_EQ, PFI_BPF_NONE, \(scmp_datum_t\)\(0\), \(scmp_datum_t\)\(2\) \}/,
     'write: stderr only');

my @bad = (
	["read  # fine\nraed  # typo\n", qr/^policy\/test\.policy:2: unknown syscall 'raed'$/m, 'typo'],
	["read\n", qr/^policy\/test\.policy:1: 'read' has no comment/m, 'no comment'],
	["read   #   \n", qr/:1: 'read' has an empty comment/m, 'empty comment'],
	["read # a\nread # b\n", qr/:2: syscall 'read' is listed twice \(first on line 1\)/, 'listed twice'],
	['kill arg0 == $pid  # x' . "\n", undef, 'own pid'],
	["kill arg9 == 1 # x\n", qr/:1: expected arg0\.\.arg5, not 'arg9'/, 'bad arg'],
	["kill arg0 = 1 # x\n", qr/:1: expected 'arg0 == VALUE'/, 'bad operator'],
	["mmap arg2 & PROT_EXECUTE == 0 # x\n", qr/:1: unknown constant 'PROT_EXECUTE'/, 'unknown constant'],
	['read arg0 == $sock  # x' . "\n", undef, 'call socket'],
	["mmap arg3 & MAP_TYPE|MAP_ANONYMOUS == MAP_PRIVATE|MAP_ANONYMOUS # x\n", undef, "constants joined with '|'"],
	["mmap arg3 & MAP_TYPE|MAP_ANONYMUS == 0 # x\n", qr/:1: unknown constant 'MAP_ANONYMUS' in a mask/, "unknown constant in a '|' list"],
	["mmap arg3 & MAP_TYPE| == 0 # x\n", qr/:1: empty or overlong term in a mask/, "empty term in a '|' list"],
	['read arg0 & $sock == 3 # x' . "\n", qr/:1: '\$sock' cannot be a mask: it is known only when the filter is loaded/, 'load-time value as a mask'],
	['read arg0 == $fd # x' . "\n", qr/:1: unknown constant '\$fd'/, 'unknown load-time value'],
	["# only comments\n\n", qr/no system calls listed/, 'empty policy'],
);
for my $case (@bad) {
	my ($text, $want, $what) = @$case;
	($rc, $err) = generate($text);
	if (!defined $want) {
		is($rc, 0, "$what: accepted") or diag $err;
		next;
	}
	isnt($rc, 0, "$what: fails");
	like($err, $want, "$what: says where and what");
	ok(!-e "$dir/out.c", "$what: writes no table");
}

done_testing();
