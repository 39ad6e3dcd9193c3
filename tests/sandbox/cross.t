# A cross build writes the seccomp filter for the host machine (the one
# the client runs on), not for the build machine that runs the
# generator, or stops with a clear message.  A cross file that claims an
# aarch64 host (with this machine's compiler: only the generated filter
# is looked at, nothing is run) must give a program that checks
# aarch64's audit architecture and uses aarch64's system call numbers;
# one that claims a mips host must fail at `meson setup`, naming the
# CPU family and what to do.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use File::Temp qw(tempdir);
use Test::More;

plan skip_all => 'meson is not on PATH' unless have_program('meson');
plan skip_all => 'ninja is not on PATH' unless have_program('ninja');
my $src = $ENV{PFI_SOURCE_ROOT} // die "PFI_SOURCE_ROOT not set (run via meson test)\n";
my $dir = tempdir('pfi-cross-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# AUDIT_ARCH_* from <linux/audit.h>; the first instructions of a
# libseccomp program compare the architecture with it.
my %audit = (x86_64 => 0xc000003e, aarch64 => 0xc00000b7);

sub cross_file {
	my ($family, $endian) = @_;
	my $f = "$dir/$family.ini";
	open my $fh, '>', $f or die "$f: $!";
	print $fh <<"EOF2";
[binaries]
c = 'cc'
pkgconfig = 'pkg-config'
[host_machine]
system = 'linux'
cpu_family = '$family'
cpu = '$family'
endian = '$endian'
EOF2
	close $fh;
	return $f;
}

sub run {
	my (@cmd) = @_;
	my $out = `@cmd 2>&1`;
	return ($? >> 8, $out);
}

# The host filter's instructions as [code, jt, jf, k].
sub program {
	my ($file) = @_;
	open my $fh, '<', $file or die "$file: $!";
	my @insn;
	while (<$fh>) {
		push @insn, [hex $1, $2, $3, hex $4]
			if /^\t\{ (0x[0-9a-f]+), (\d+), (\d+), (0x[0-9a-f]+) \},$/;
	}
	return @insn;
}

my ($rc, $out) = run('meson', 'setup', '--cross-file', cross_file('aarch64', 'little'),
		     "$dir/aarch64", $src);
is($rc, 0, 'cross setup for an aarch64 host') or diag $out;
($rc, $out) = run('ninja', '-C', "$dir/aarch64", 'policy/client-bpf.c');
is($rc, 0, 'the filter is generated') or diag $out;
like($out, qr/'poll' does not exist on aarch64; left out/,
     'a call the host lacks is left out, with a note');
my @prog = program("$dir/aarch64/policy/client-bpf.c");
ok(@prog > 10, 'the program has instructions');
# BPF_LD|BPF_W|BPF_ABS of offset 4 loads seccomp_data.arch; the next
# BPF_JMP|BPF_JEQ|BPF_K compares it.
my ($arch_check) = map { $prog[$_ + 1][3] }
	grep { $prog[$_][0] == 0x20 && $prog[$_][3] == 4 && $prog[$_ + 1][0] == 0x15 } 0 .. $#prog - 1;
is(sprintf('0x%x', $arch_check // 0), sprintf('0x%x', $audit{aarch64}),
   'the program checks for aarch64');
ok(!grep({ $_->[3] == $audit{x86_64} } @prog), 'and not for x86_64 (the build machine)');
# aarch64 numbers: read 63, sendto 206, sendmsg 211, mmap 222; x86_64's
# would be 0, 44, 46, 9.
my %jeq = map { $_->[3] => 1 } grep { $_->[0] == 0x15 } @prog;
for my $call ([read => 63], [sendto => 206], [sendmsg => 211], [mmap => 222], [exit_group => 94]) {
	ok($jeq{$call->[1]}, "$call->[0] is compared as aarch64's number $call->[1]");
}

($rc, $out) = run('meson', 'setup', '--cross-file', cross_file('mips', 'big'),
		  "$dir/mips", $src);
isnt($rc, 0, 'cross setup for a mips host fails');
like($out, qr/ERROR: .*cannot generate the client's seccomp filter for CPU family 'mips' \(the host machine\)/,
     'and says why, naming the CPU family');
like($out, qr/policy\/meson\.build knows .*aarch64.*x86_64/, 'and which families it knows');

done_testing();
