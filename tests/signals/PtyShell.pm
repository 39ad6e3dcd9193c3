# A small pseudo-terminal driver for the signals suite: an interactive
# bash (job control on) on the slave side of a pty, driven from the
# master side as a user at a terminal would: typing lines, Ctrl-C,
# Ctrl-Z, resizing the window.
package PtyShell;

use strict;
use warnings;

use IO::Pty;
use IO::Tty::Constant qw(TIOCSWINSZ);
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time);

our $PATIENCE = 30;   # seconds to wait for expected output before failing

# Starts `bash -i` in a fresh pty, in directory $dir, with %$env added.
sub new {
	my ($class, %o) = @_;
	my $pty = IO::Pty->new or die "no pty: $!\n";
	my $pid = fork // die "fork: $!\n";
	if (!$pid) {
		$pty->make_slave_controlling_terminal;
		my $slave = $pty->slave;
		close $pty;
		open STDIN, '<&', $slave or POSIX::_exit(120);
		open STDOUT, '>&', $slave or POSIX::_exit(120);
		open STDERR, '>&', $slave or POSIX::_exit(120);
		close $slave;
		chdir $o{dir} or POSIX::_exit(121) if $o{dir};
		# A shell started from a test may inherit ignored signals.
		$SIG{$_} = 'DEFAULT' for qw(INT QUIT TERM HUP TSTP TTIN TTOU PIPE);
		%ENV = (%ENV, %{ $o{env} // {} }, TERM => 'dumb', PS1 => 'PFI$ ',
			PS2 => '', HISTFILE => '/dev/null');
		delete $ENV{PROMPT_COMMAND};
		exec 'bash', '--norc', '--noprofile', '--noediting', '-i'
			or POSIX::_exit(122);
	}
	$pty->close_slave;
	$pty->blocking(0);
	my $self = bless { pty => $pty, pid => $pid, buf => '', log => '' }, $class;
	$self->resize(24, 80);
	$self->expect(qr/PFI\$ \z/) or die "shell gave no prompt:\n$self->{buf}\n";
	# No history expansion of our '!'; and output the script writes
	# right after a Ctrl-C is not flushed away (the tty flushes at the
	# signal, racing with a handler that prints).
	$self->run('set +o histexpand; stty noflsh');
	return $self;
}

sub _fill {
	my ($self, $until) = @_;
	my $rin = '';
	vec($rin, fileno $self->{pty}, 1) = 1;
	my $left = $until - time;
	return 0 if $left <= 0;
	select(my $rout = $rin, undef, undef, $left) > 0 or return 0;
	my $n = sysread $self->{pty}, my $chunk, 65536;
	return 0 unless $n;
	$chunk =~ s/\r//g;
	$self->{buf} .= $chunk;
	$self->{log} .= $chunk;
	return 1;
}

# Waits for $re in the output; returns the text up to and including the
# match (consumed) and the captures, or nothing on timeout.
sub expect {
	my ($self, $re, $secs) = @_;
	my $until = time + ($secs // $PATIENCE);
	for (;;) {
		if ($self->{buf} =~ $re) {
			my @cap = map { substr $self->{buf}, $-[$_], $+[$_] - $-[$_] }
				  1 .. $#-;
			my $text = substr $self->{buf}, 0, $+[0], '';
			return wantarray ? ($text, @cap) : $text;
		}
		$self->_fill($until) or ($self->{buf} =~ $re ? next : return);
	}
}

sub type {
	my ($self, $text) = @_;
	syswrite $self->{pty}, $text;
	return;
}

# Runs a command line to its end; returns (output, $?) where output is
# what appeared between the echoed line and the status marker.
my $serial = 0;
sub run {
	my ($self, $cmd, $secs) = @_;
	my $n = ++$serial;
	$self->type("$cmd; echo \"<<\$?:$n>>\"\n");
	my ($text, $st) = $self->expect(qr/<<(\d+):$n>>\n/, $secs)
		or return (undef, undef);
	$text =~ s/<<\d+:$n>>\n\z//;
	$self->expect(qr/PFI\$ /, 5);
	return (strip_echo($text), $st);
}

# The status of the last foreground job, asked for on its own line (a
# job that died of SIGINT makes bash drop the rest of its line).
sub last_status {
	my ($self) = @_;
	my $n = ++$serial;
	$self->type("echo \"<<\$?:$n>>\"\n");
	my (undef, $st) = $self->expect(qr/<<(\d+):$n>>\n/) or return undef;
	$self->expect(qr/PFI\$ /, 5);
	return $st;
}

# The terminal echoes what we type: drop the first line (our command).
sub strip_echo {
	my ($text) = @_;
	$text =~ s/\A[^\n]*\n//;
	return $text;
}

# Sets the window size on the master, as a terminal emulator does on a
# resize; the kernel sends SIGWINCH to the foreground process group.
sub resize {
	my ($self, $rows, $cols) = @_;
	ioctl($self->{pty}, TIOCSWINSZ, pack('S4', $rows, $cols, 0, 0))
		or die "TIOCSWINSZ: $!\n";
	return;
}

sub log_text { $_[0]{log} }

sub close {
	my ($self) = @_;
	return unless $self->{pid};
	$self->type("exit\n");
	my $until = time + 5;
	while (time < $until) {
		last if waitpid($self->{pid}, WNOHANG) == $self->{pid};
		$self->_fill(time + 0.05);
	}
	kill 'KILL', $self->{pid} if kill 0, $self->{pid};
	waitpid $self->{pid}, 0;
	delete $self->{pid};
	close $self->{pty};
	return;
}

sub DESTROY { $_[0]->close }

1;
