# The server's life: auto-reload after editing the script or a module,
# quitting when its socket is removed, --kill, -f and idle_timeout.
# PFI_LANG=perl or python (tests/meson.build runs both): the module is
# PFIMod.pm or pfimod.py.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;
use Time::HiRes qw(sleep time);

my $env = new_env();
mkdir "$env->{dir}/lib" or die;
my $python = script_lang() eq 'python';
sub write_module {
	my ($version) = @_;
	my $file = $python ? 'pfimod.py' : 'PFIMod.pm';
	open my $fh, '>', "$env->{dir}/lib/$file" or die;
	print $fh $python ? "VERSION = '$version'\n"
		: "package PFIMod; our \$VERSION = '$version'; 1;\n";
	close $fh;
}
sub script_body {
	my ($tag, $opts) = @_;
	if ($python) {
		(my $kw = $opts) =~ s/\s*=>\s*/=/g;
		return { python => <<"EOS" };
import os, sys
import prefork_interp
sys.path.insert(0, '$env->{dir}/lib')
import pfimod
boot = str(os.getpid())
prefork_interp.initialisation_complete($kw)
print(f"tag=$tag mod={pfimod.VERSION} boot={boot} srv={os.getppid()}")
EOS
	}
	return <<"EOS";
use strict;
use lib '$env->{dir}/lib';
use PFIMod;
use Proc::Prefork::Interp;
our \$boot = "\$\$";
prefork_initialisation_complete($opts);
print "tag=$tag mod=\$PFIMod::VERSION boot=\$boot srv=", getppid(), "\\n";
EOS
}
# File times come from a coarse clock: let it move on past the server's
# start, so the edit is newer than the server but not in the future (a
# future mtime would make the next server look stale too).
sub newer_than_server { sleep 0.05 }
sub call { my $r = run_call([@_], dir => $env->{dir}); is($r->{status}, 0, "call @_[1..$#_] ok") or diag $r->{err}; $r->{out} }
sub boot_of { my ($out) = @_; return ($out =~ /boot=(\d+)/)[0] // 'none' }

write_module('1');
my $script = write_script($env, 'life.pl', script_body('A', ''));
my $o1 = call($script);
my $o2 = call($script);
is(boot_of($o2), boot_of($o1), 'second call reuses the server');
like($o2, qr/tag=A mod=1/, 'first version');

# Editing the script: the next call runs the new text in a fresh server.
newer_than_server();
write_script($env, 'life.pl', script_body('B', ''));
my $o3 = call($script);
like($o3, qr/tag=B/, 'edited script: next call runs the new text');
isnt(boot_of($o3), boot_of($o2), 'edited script: fresh server');

# Editing a module it loaded.
newer_than_server();
write_module('2');
my $o4 = call($script);
like($o4, qr/mod=2/, 'edited module: next call sees the new module');
isnt(boot_of($o4), boot_of($o3), 'edited module: fresh server');
is(boot_of(call($script)), boot_of($o4), 'and that server is then reused');

# Removing the socket makes the server quit.
my @socks = socket_files($env);
is(scalar(@socks), 1, 'one socket in the run directory');
unlink "$env->{run}/$_" for @socks;
ok(wait_processes_gone($script, 5), 'server (and watcher) quit after the socket was removed');

# --kill stops it.
call($script);
ok(scalar(processes_matching($script)), 'a server runs again');
my $k = run_call([client_path(), '--kill,-U,' . interpreter(), $script], dir => $env->{dir});
is($k->{status}, 0, '--kill succeeded') or diag $k->{err};
is($k->{out} . $k->{err}, '', '--kill ran nothing and said nothing');
ok(wait_processes_gone($script, 5), '--kill stopped the server');
is(scalar(socket_files($env)), 0, '--kill removed the socket');

# -f replaces it.
my $f1 = call($script);
my $f2 = call(client_path(), '-f,-U,' . interpreter(), $script);
isnt(boot_of($f2), boot_of($f1), '-f started a fresh server');
my $f3 = call($script);
is(boot_of($f3), boot_of($f2), 'the fresh server serves the next call');
my ($old_srv) = $f1 =~ /srv=(\d+)/;
my $t0 = time;
sleep 0.02 while kill(0, $old_srv) && time - $t0 < 5;
ok(!kill(0, $old_srv), '-f made the old server quit');
kill_servers($env);

# idle_timeout ends it.
my $idle = write_script($env, 'idle.pl', script_body('I', 'idle_timeout => 2'));
my ($idle_srv) = call($idle) =~ /srv=(\d+)/;
ok($idle_srv, 'idle server running');
# not before its time: a server quitting as soon as it is idle fails here
sleep 1;
ok(kill(0, $idle_srv), 'idle_timeout 2: the server still runs 1 s after the call');
ok(wait_processes_gone($idle, 8), 'idle_timeout ended the server');

done_testing;
