# Helpers for the deploy suite: real users made with useradd (names
# starting "pfi14r", so that they collide with nobody else's), an
# installed-like layout every user can read, and running commands as
# those users.
package DeployTest;

use strict;
use warnings;
use Exporter 'import';
use File::Copy qw(copy);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use FindBin;
use lib "$FindBin::Bin/../lib";
use PFIHarness;
use Test::More;

our @EXPORT = qw(need_root_and_tools ensure_user layout as_user run_as
		 field client_lines);

sub need_root_and_tools {
	my (@tools) = @_;
	plan skip_all => "needs root to make users and act as them (running as uid $>)"
		unless $> == 0;
	for my $t ('useradd', 'setpriv', @tools) {
		plan skip_all => "$t is not installed" unless grep { -x "$_/$t" }
			split /:/, "$ENV{PATH}:/usr/sbin:/sbin";
	}
}

# Makes user $name if missing.  %o: home => path (not created), or
# no_home => 1.  Returns (uid, gid).
sub ensure_user {
	my ($name, %o) = @_;
	if (!getpwnam($name)) {
		my @args = ('-s', '/bin/sh', '-U');
		push @args, '-M', '-d', $o{home} // '/nonexistent';
		system('useradd', @args, $name) == 0 or die "useradd $name failed\n";
	}
	my @pw = getpwnam($name) or die "no user $name\n";
	return ($pw[2], $pw[3]);
}

# An installed-like layout below /srv that every user can read: the
# client, the module, and a script whose #! line names that client.
sub layout {
	my ($body) = @_;
	-d '/srv' or mkdir '/srv', 0755;
	my $root = tempdir('pfi14r-deploy-XXXXXX', DIR => '/srv', CLEANUP => 0);
	chmod 0755, $root;
	make_path("$root/bin", "$root/lib/Proc/Prefork");
	copy(client_path(), "$root/bin/prefork-interp") or die "copy: $!";
	chmod 0755, "$root/bin/prefork-interp";
	system('cp', '-r', perl_lib() . '/Proc', "$root/lib/") == 0 or die "cp failed\n";
	system('chmod', '-R', 'a+rX', "$root/lib") == 0 or die;
	open my $fh, '>', "$root/bin/shared.pl" or die;
	# `use lib`, not PERL5LIB: sudo resets the environment.
	print $fh "#!$root/bin/prefork-interp -U,perl\nuse lib '$root/lib';\n$body";
	close $fh;
	chmod 0755, "$root/bin/shared.pl";
	return $root;
}

# The command line to run @cmd as user $name (setpriv: a clean exec,
# not set-uid, so nothing like AT_SECURE).
sub as_user {
	my ($name, @cmd) = @_;
	return ['setpriv', "--reuid=$name", "--regid=$name", '--init-groups', @cmd];
}

# Runs @cmd as $name in $cwd with the harness's variables unset.
sub run_as {
	my ($name, $cwd, $cmd, %env) = @_;
	my @cd = ('sh', '-c', 'cd "$1" && shift && exec "$@"', 'sh', $cwd);
	return run_call([@cd, @{ as_user($name, @$cmd) }], dir => '/tmp',
			env => \%env,
			unset => [grep { !exists $env{$_} } qw(PREFORK_INTERP_RUN_DIR
				  PREFORK_INTERP_FALLBACK PERL5LIB)]);
}

sub field { my ($out, $k) = @_; return ($out =~ /^$k=(.*)$/m)[0] // '(none)' }

sub client_lines { my ($r) = @_; return grep { /^prefork-interp: / } split /\n/, $r->{err} }

1;
