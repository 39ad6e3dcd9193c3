#!/usr/bin/perl
# A deliberately simple (and, on request, misbehaving) prefork-interp
# server for the sandbox tests: it speaks just enough of the v1 wire
# protocol (DESIGN.md section 3) to drive the client down one path.
#
#   fake-server.pl SOCKET-PATH READY-FILE MODE [ARG]
#
# MODE:
#   bad-greeting      send a greeting with the wrong magic
#   status HEX        greet (xdata from $FAKE_XDATA, default empty),
#                     read the request, report wait status HEX
#   hold              greet, read the request, report nothing until
#                     the client hangs up (the client sits in its sandbox)
#   slow-xdata HEX    send the greeting head, wait until FILE ARG.go
#                     exists, then send xdata and finish like "status"
#   hangup-mid        send half a greeting head, then hang up
#   eof               hang up at once, as a server that quit to reload
# It serves connections until killed, writing its pid to READY-FILE
# once it listens.
use strict;
use warnings;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM SOMAXCONN);
use Time::HiRes qw(sleep);

my ($path, $ready, $mode, $arg) = @ARGV;
die "usage: fake-server.pl SOCKET READY MODE [ARG]\n" unless defined $mode;
unlink $path;
my $l = IO::Socket::UNIX->new(Type => SOCK_STREAM, Local => $path,
			      Listen => SOMAXCONN) or die "listen $path: $!\n";
$SIG{PIPE} = 'IGN';
{
	open my $fh, '>', "$ready.tmp" or die "$ready: $!\n";
	print $fh "$$\n";
	close $fh;
	rename "$ready.tmp", $ready or die "$ready: $!\n";
}

sub read_n {
	my ($c, $n) = @_;
	my $buf = '';
	while (length $buf < $n) {
		my $got = sysread $c, $buf, $n - length $buf, length $buf;
		return undef unless $got;
	}
	return $buf;
}

sub greet {
	my ($c, $xdata) = @_;
	syswrite $c, "PFI\n" . pack('N', length $xdata) . $xdata;
}

# The go byte, three one-byte fd messages (reading them without a
# control buffer makes the kernel discard the fds), the request.
sub read_request {
	my ($c) = @_;
	defined read_n($c, 4) or return 0;
	my $len = read_n($c, 4) // return 0;
	defined read_n($c, unpack 'N', $len) or return 0;
	return 1;
}

while (my $c = $l->accept) {
	my $xdata = $ENV{FAKE_XDATA} // '';
	if ($mode eq 'bad-greeting') {
		syswrite $c, "HTTP/1.0 200 OK\r\n\r\n";
		1 while sysread $c, my $junk, 4096;
	} elsif ($mode eq 'eof') {
		# nothing: close at once
	} elsif ($mode eq 'hangup-mid') {
		syswrite $c, "PF";
	} elsif ($mode eq 'status') {
		greet($c, $xdata);
		syswrite $c, pack('N', hex $arg) if read_request($c);
	} elsif ($mode eq 'hold') {
		greet($c, $xdata);
		read_request($c);
		1 while sysread $c, my $junk, 4096;
	} elsif ($mode eq 'slow-xdata') {
		$xdata = 'full-argv' unless length $xdata;
		syswrite $c, "PFI\n" . pack('N', length $xdata);
		my $go = $ENV{FAKE_GO_FILE} // die "FAKE_GO_FILE not set\n";
		sleep 0.01 until -e $go;
		unlink $go;
		syswrite $c, $xdata;
		syswrite $c, pack('N', hex $arg) if read_request($c);
	} else {
		die "unknown mode $mode\n";
	}
	close $c;
}
