package Proc::Prefork::Interp::Executor;

# A forked child's side of one call: as a spare, waiting (its first
# pages copied) until the server hands it a call; then the rest of the
# protocol exchange, the wait for a running slot, and the set-up of
# the call's state (stdio, environment, arguments, signals, seed).
# When run returns, the per-call code of the script runs.

use strict;
use warnings;

use Errno qw(EINTR ECONNRESET);
use IO::FDPass ();
use POSIX ();
use Socket qw(SHUT_RDWR);
use Proc::Prefork::Interp::Log qw(log_msg);
use Proc::Prefork::Interp::Protocol ();
use Proc::Prefork::Interp::CallerState ();
use Proc::Prefork::Interp::ExtraFds ();
use Proc::Prefork::Interp::Relay ();
use Proc::Prefork::Interp::FdMessage ();
use Proc::Prefork::Interp::RequestReader ();
use Proc::Prefork::Interp::Stdio ();
use Proc::Prefork::Interp::Locale ();
use Proc::Prefork::Interp::Environment ();
use Proc::Prefork::Interp::DataHandles ();
use Proc::Prefork::Interp::Timers ();

use constant READ_CHUNK => 65536;

# What the server handed down; kept, not freed: see new.
my @retired;

# call: the call's socket (undef in a spare); ctl: the control socket
# to the server; opts, script, user_sig (the script's CHLD, ALRM,
# TERM and HUP handlers, which the server replaced); retired: the server's state; offered: the step-2 bits the
# greeting offered.
sub new {
    my ($class, %args) = @_;
    # Freeing the server's tables would write to pages this process
    # still shares copy-on-write with the server, on every call's
    # critical path, for nothing.
    push @retired, delete $args{retired};
    return bless { %args }, $class;
}

sub run {
    my ($self) = @_;
    my ($call, $ctl) = @$self{qw(call ctl)};
    unless ($call) {
        $0 = "$self->{script} [prefork spare]";
        my $fd;
        do {
            $! = 0;
            $fd = IO::FDPass::recv(fileno $ctl);
        } while ($fd < 0 && $! == EINTR);
        POSIX::_exit(0) if $fd < 0;     # the server retired this spare
        open($call, '+<&=', $fd) or POSIX::_exit(127);
    }
    # The call has begun: -M, -A and -C count from now, as they count
    # from a standalone run's start, not from the server's.
    $^T = time;
    my ($state, $held, $extra) = $self->_serve_call($call, $ctl);
    # (undef, as the script had it, is the default disposition too, and
    # what a standalone run's %SIG holds for a signal it did not set.)
    for my $sig (qw(CHLD ALRM TERM HUP)) {
        $SIG{$sig} = $self->{user_sig}{$sig};
    }
    # The caller's state, but its blocked mask: what cannot be applied
    # is logged, so this comes before the log is closed.
    Proc::Prefork::Interp::CallerState::restore_server_limits();
    $self->_refuse_call(Proc::Prefork::Interp::CallerState::apply_but_mask($state))
        if $state;
    # [extra-fds] The caller's other fds at their numbers, once nothing
    # of the server's is left open but the log; last, the log itself
    # goes, before the numbers are taken (see _place_extra_fds).
    $self->_place_extra_fds($extra) if $extra;
    Proc::Prefork::Interp::Log::close_log();
    # A signal held during the set-up (SIGINT from the server, and
    # [signals] every relayed one) reaches the script only now, with the
    # call's dispositions and fds: applying the caller's blocked mask
    # sets it exactly (the held signals it does not block included);
    # without a state the hold is undone, and SIGINT and SIGPIPE are
    # unblocked even if the server had them blocked.
    if ($state) {
        $self->_refuse_call(Proc::Prefork::Interp::CallerState::apply_mask($state));
    } else {
        $held->addset($_) for POSIX::SIGINT(), POSIX::SIGPIPE();
        Proc::Prefork::Interp::Relay::executor_release($held);
    }
    Proc::Prefork::Interp::Timers::rearm();
    $! = 0;
    return;
}

# Ends the call with one line to the caller (and the log), if there is
# a reason ($why) why it cannot run as its caller would run the script.
sub _refuse_call {
    my ($self, $why) = @_;
    return unless defined $why;
    print STDERR "prefork-interp: $self->{script}: call refused: $why\n";
    log_msg('err', "call refused: $why");
    POSIX::_exit(127);
}

# [extra-fds] $extra: [[number, fd received], ...]. A number open now
# and not the module's (the received fds, the log) is the script's: its
# initialisation holds it, as a standalone run's would, so the caller's
# fd of that number is left out, logged. The log is closed before the
# rest are placed, so its fds cannot stand where one belongs; the
# received ones are placed where they stand (ExtraFds::place).
sub _place_extra_fds {
    my ($self, $extra) = @_;
    my %machinery = map { $_ => 1 } Proc::Prefork::Interp::Log::own_fds(),
                                    map { $_->[1] } @$extra;
    my %held = map { $_ => 1 } Proc::Prefork::Interp::ExtraFds::held_by_script(
        [ map { $_->[0] } @$extra ], \%machinery);
    my @place;
    for my $p (@$extra) {
        unless ($held{$p->[0]}) {
            push @place, $p;
            next;
        }
        log_msg('notice', "the caller's fd $p->[0] is not passed: "
                          . "the script's initialisation holds fd $p->[0]");
        POSIX::close($p->[1]);
    }
    $self->_refuse_call(Proc::Prefork::Interp::ExtraFds::lacks_room(\@place));
    Proc::Prefork::Interp::Log::close_log();
    $self->_refuse_call(Proc::Prefork::Interp::ExtraFds::place(\@place));
    return;
}

sub _protocol_error { return { message => $_[0] } }
sub _client_went_away { return { quiet => 1 } }

sub _serve_call {
    my ($self, $call, $ctl) = @_;
    my $o = $self->{opts};
    my ($fds, $request, $state, $uses, $extra);
    my $ok = eval {
        local $SIG{ALRM} = sub {
            die _protocol_error("request not complete after $o->{request_timeout} s");
        };
        alarm($o->{request_timeout}) if $o->{request_timeout} > 0;
        ($fds, $request, $state, $uses, $extra) = _read_request($call, $self->{offered});
        alarm(0);
        1;
    };
    alarm(0);
    unless ($ok) {
        my $e = $@;
        unless (ref $e eq 'HASH' && $e->{quiet}) {
            my $msg = ref $e eq 'HASH' ? $e->{message} : "$e";
            log_msg('err', "protocol error: $msg");
        }
        # Shutting the socket down means the client gets no status at all.
        shutdown($call, SHUT_RDWR);
        POSIX::_exit(ref $e eq 'HASH' && $e->{quiet} ? 0 : 127);
    }

    # Whole request in hand: wait for one of the max_servers running
    # slots.  Anything but 'G' means the server dropped this call.
    # From the report on, the server may interrupt the call (SIGINT, its
    # client gone): SIGINT is held back here until the call's state is
    # in place (run), so that it never reaches the handlers of the
    # initialisation. [signals] 'S' instead of 'R': the server relays
    # signals from then on; all of them are held back so.
    my $relaying = $uses & Proc::Prefork::Interp::Protocol::USE_SIGNALS;
    my $held = Proc::Prefork::Interp::Relay::executor_hold(
        $relaying ? () : POSIX::SIGINT());
    my ($sent, $got, $go) = (syswrite($ctl, $relaying ? 'S' : 'R'), undef, '');
    do { $got = sysread($ctl, $go, 1) } while (!defined $got && $! == EINTR);
    POSIX::_exit(0) unless $sent && $got && $go eq 'G';
    close $ctl;
    # Only now, with a running slot, the request becomes Perl strings:
    # while it waited it was one buffer, so a flood of pending exchanges
    # costs what the clients sent, not 50 to 100 bytes per string.
    my ($env, $args) = $request->request;

    unless (Proc::Prefork::Interp::Stdio::install($fds)) {
        log_msg('err', "installing the caller's stdio: $!");
        shutdown($call, SHUT_RDWR);
        POSIX::_exit(127);
    }
    POSIX::close($_) for @$fds;
    # A layer it cannot push again keeps the server's buffering (POD).
    Proc::Prefork::Interp::Stdio::refresh_buffers();
    close $call;
    # DATA where the initialisation left it, whatever other calls read,
    # and off the numbers the caller's fds take.
    my $data_failed = Proc::Prefork::Interp::DataHandles::reopen(
        map { $_->[0] } @{ $extra // [] });
    log_msg('err', "the call shares its DATA handle: $data_failed")
        if defined $data_failed;
    # The locale from the caller's environment (as perl's start-up),
    # then what the script's initialisation set on top of it.
    Proc::Prefork::Interp::Environment::install($env);
    Proc::Prefork::Interp::Locale::for_call();
    Proc::Prefork::Interp::Environment::apply_init_changes();
    # The decoded list becomes @ARGV itself, not a copy of each string
    # (up to RequestReader::MAX_STRINGS of them).
    (undef, $0) = splice @$args, 0, 2;
    *ARGV = $args;
    # (Unblocked only in run, with the call's state: see above.) The
    # default disposition, and undef in %SIG, as in a standalone run.
    $SIG{INT}  = undef;
    $SIG{PIPE} = undef;
    _reseed();
    # Leftovers of the server's own work must not leak into the call
    # ($? in particular decides die's exit status).
    $? = 0;
    $@ = '';
    $! = 0;
    return ($state, $held, $extra);
}

# Steps 2 to 4 of the exchange: the initial byte (the extensions the
# client uses), three fds, the request (decoded as it arrives, see
# RequestReader), and the caller-state and extra-fds blocks if the
# client uses them. Returns the fds, the complete reader, the state,
# the bits used and the extra fds ([number, fd] pairs, or undef).
# Dies with _protocol_error or
# _client_went_away.
sub _read_request {
    my ($call, $offered) = @_;
    my ($used, $error) = Proc::Prefork::Interp::Protocol::check_initial_byte(
        _read_exact($call, 1, 'initial byte'), $offered);
    die _protocol_error($error) if defined $error;
    my @fds;
    for my $which (0 .. 2) {
        # Exactly one fd per message, or none at all reaches the script.
        my ($fd, $why) = Proc::Prefork::Interp::FdMessage::receive($call, $which);
        if (!defined $fd) {
            POSIX::close($_) for @fds;
            die defined $why ? _protocol_error($why) : _client_went_away();
        }
        push @fds, $fd;
    }
    my $reader = Proc::Prefork::Interp::RequestReader->new;
    while (my $want = $reader->wanted) {
        $want = READ_CHUNK if $want > READ_CHUNK;
        # Fed as it arrives, so that a fault is refused (and logged) when
        # its bytes come, not when the rest would have.
        my $why = $reader->feed(_read_some($call, $want, 'request'));
        die _protocol_error($why) if defined $why;
    }
    my $why = $reader->call_fault;
    die _protocol_error($why) if defined $why;
    my $state = $used & Proc::Prefork::Interp::CallerState::USE_BIT
        ? _read_caller_state($call) : undef;
    my $extra = $used & Proc::Prefork::Interp::ExtraFds::USE_BIT
        ? _read_extra_fds($call) : undef;
    return (\@fds, $reader, $state, $used, $extra);
}

# [extra-fds] The block after the request and any caller-state block
# (docs/protocol.md): its length, checked before the numbers are read,
# the numbers, then one message with each fd.
sub _read_extra_fds {
    my ($call) = @_;
    my ($n, $why) = Proc::Prefork::Interp::ExtraFds::count_of_length(
        unpack 'N', _read_exact($call, 4, 'extra-fds length'));
    die _protocol_error($why) unless $n;
    my $numbers;
    ($numbers, $why) = Proc::Prefork::Interp::ExtraFds::decode(
        _read_exact($call, 4 * $n, 'extra-fds numbers'));
    die _protocol_error($why) unless $numbers;
    my $fds;
    ($fds, $why) = Proc::Prefork::Interp::ExtraFds::receive($call, $numbers);
    die defined $why ? _protocol_error($why) : _client_went_away() unless $fds;
    return [ map { [$numbers->[$_], $fds->[$_]] } 0 .. $#$numbers ];
}

# [caller-state] The block after the request (docs/protocol.md).
sub _read_caller_state {
    my ($call) = @_;
    my $len = unpack 'N', _read_exact($call, 4, 'caller-state length');
    $len <= Proc::Prefork::Interp::CallerState::MAX_BLOCK
        or die _protocol_error("caller-state length $len exceeds "
                               . Proc::Prefork::Interp::CallerState::MAX_BLOCK);
    my ($state, $why) = Proc::Prefork::Interp::CallerState::decode_for_server(
        _read_exact($call, $len, 'caller-state block'));
    $state or die _protocol_error($why);
    return $state;
}

sub _read_exact {
    my ($fh, $want, $what) = @_;
    my $buf = '';
    $buf .= _read_some($fh, $want - length $buf, $what) while length $buf < $want;
    return $buf;
}

# What one read gives: 1 to min($most, READ_CHUNK) bytes.
sub _read_some {
    my ($fh, $most, $what) = @_;
    $most = READ_CHUNK if $most > READ_CHUNK;
    for (;;) {
        my $n = sysread($fh, my $buf, $most);
        return $buf if $n;
        next if !defined $n && $! == EINTR;
        die _client_went_away() if defined $n || $! == ECONNRESET;
        die _protocol_error("reading $what: $!");
    }
}

sub _reseed {
    my $seed;
    if (open(my $rnd, '<:raw', '/dev/urandom')) {
        my $got = sysread($rnd, my $bytes, 4);
        $seed = unpack 'L', $bytes if defined $got && $got == 4;
        close $rnd;
    }
    defined $seed ? srand($seed) : srand();
    return;
}

1;
