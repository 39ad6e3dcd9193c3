package Proc::Prefork::Interp::RequestReader;

# The request (protocol step 4), decoded as it arrives, with its memory
# bounded: pure, no I/O (the caller reads, see `wanted`, and feeds).
#
# A request is a 4-byte big-endian length, then NUL-terminated strings:
# NAME=value environment entries, an empty string, the argument strings.
# The same rules and limits as src/protocol.c (pfi_request_decode):
#  - the length is at most MAX_REQUEST: Linux starts a program with at
#    most 6 MiB of argument and environment strings, and a request holds
#    only such strings of the client; so the cap is that plus room;
#  - at most MAX_STRINGS entries and arguments: each would become a Perl
#    string of 50 to 100 bytes, so this keeps a flood of empty strings
#    from costing a hundred times its size;
#  - a non-empty body ending in NUL, every entry holding '=', the end of
#    the environment present.
# While the request arrives, only its raw bytes are kept (one buffer, no
# Perl string per entry), and each chunk is checked as it comes, so a
# bad request is refused as soon as its fault arrives. Memory per
# exchange: the request, plus one chunk; `strings` and `request` then
# build the lists once the whole request is in.

use strict;
use warnings;

use constant {
    MAX_REQUEST => (6 << 20) + (64 << 10),    # PFI_REQUEST_MAX
    MAX_STRINGS => 1 << 18,                   # PFI_REQUEST_MAX_STRINGS
};

sub new {
    my ($class) = @_;
    return bless {
        head    => '',      # the length field, until complete
        len     => undef,   # body length, once known
        raw     => '',      # the body so far
        scanned => 0,       # offset in raw up to which strings are checked
        searched => undef,  # offset up to which raw holds no NUL past scanned
        in_env  => 1,
        strings => 0,       # entries and arguments seen
        args    => 0,       # of which arguments
        error   => undef,
    }, $class;
}

# How many more bytes the request needs; 0 once complete or refused.
sub wanted {
    my ($self) = @_;
    return 0 if defined $self->{error};
    return 4 - length $self->{head} unless defined $self->{len};
    return $self->{len} - length $self->{raw};
}

# Adds bytes: at most `wanted`, or the whole request at once. Returns
# undef, or why the request is refused (then and from then on).
sub feed {
    my ($self, $bytes) = @_;
    return $self->{error} if defined $self->{error};
    unless (defined $self->{len}) {
        my $take = 4 - length $self->{head};
        $self->{head} .= substr $bytes, 0, $take, '';
        return undef if length $self->{head} < 4;
        my $len = unpack 'N', $self->{head};
        return $self->{error} = "request length $len exceeds " . MAX_REQUEST
            if $len > MAX_REQUEST;
        return $self->{error} = 'request is empty' if $len == 0;
        $self->{len} = $len;
    }
    return $self->{error} = 'more bytes fed than the request holds'
        if length $bytes > $self->wanted;
    $self->{raw} .= $bytes;
    return $self->_scan;
}

# Checks the complete strings that arrived since the last scan.
sub _scan {
    my ($self) = @_;
    my $raw = \$self->{raw};
    my $at = $self->{scanned};
    # The search for the NUL that ends the string at $at goes on where
    # the last one stopped: a string fed a byte at a time costs its
    # length, not its length squared.
    my $from = $self->{searched} // $at;
    while ((my $nul = index $$raw, "\0", $from) >= 0) {
        if ($self->{in_env} && $nul == $at) {
            $self->{in_env} = 0;
            $self->{env_end} = $at;
        } elsif (++$self->{strings} > MAX_STRINGS) {
            return $self->{error} =
                'request has more than ' . MAX_STRINGS . ' strings';
        } elsif ($self->{in_env}) {
            my $eq = index $$raw, '=', $at;
            return $self->{error} = 'environment entry without "="'
                if $eq < 0 || $eq > $nul;
        } else {
            $self->{args}++;
        }
        $from = $at = $nul + 1;
    }
    $self->{scanned} = $at;
    $self->{searched} = length $$raw;
    return undef if $self->wanted;
    return $self->{error} = 'request does not end with NUL'
        if $at != length $$raw;
    return $self->{error} = 'request has no end of environment'
        if $self->{in_env};
    return undef;
}

# Once complete: the environment entries (NAME=value, in order) and the
# argument strings, as two array refs. The raw buffer is released. Each
# string is made once (a list of many is the costly part: see the top).
sub strings {
    my ($self) = @_;
    die "request not complete\n" if $self->wanted || defined $self->{error};
    my $raw = delete $self->{raw};
    my $end = $self->{env_end};
    my @env = split /\0/, substr($raw, 0, $end);
    my @args = $self->{args} ? split(/\0/, substr($raw, $end + 1), -1) : ('');
    pop @args;                      # after the last NUL
    return (\@env, \@args);
}

# Once complete: why the request cannot be a call (it lacks the
# interpreter and script), or undef. Needs no lists, so a server can
# refuse before it builds them.
sub call_fault {
    my ($self) = @_;
    die "request not complete\n" if $self->wanted || defined $self->{error};
    return undef if $self->{args} >= 2;
    return "request has $self->{args} argument strings; "
        . 'interpreter and script are required';
}

# Once complete, the request as a call needs it: (\%env, \@args, undef),
# or (undef, undef, $why) if it lacks the interpreter and script.
sub request {
    my ($self) = @_;
    my $why = $self->call_fault;
    return (undef, undef, $why) if defined $why;
    my ($entries, $args) = $self->strings;
    # %ENV as perl's start-up builds it from execve's entries: the
    # first value of a name given twice, no entry with an empty name.
    my %env;
    for (@$entries) {
        my $eq = index $_, '=';
        next if $eq < 1;
        my $name = substr $_, 0, $eq;
        $env{$name} = substr $_, $eq + 1 unless exists $env{$name};
    }
    return (\%env, $args, undef);
}

1;
