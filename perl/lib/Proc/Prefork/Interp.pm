package Proc::Prefork::Interp;

# Script-side half of prefork-interp: turns an initialised script into a
# persistent server that runs its per-call code in pre-forked processes.
# This file is the public API; the server lives in the packages under
# Proc::Prefork::Interp:: (see "INTERNALS" in the POD at the end, which
# is also the user documentation).

use strict;
use warnings;

# The same version as meson.build (tests/package/versions.t checks).
our $VERSION = '0.1.0';

use Exporter qw(import);
our @EXPORT = qw(prefork_initialisation_complete prefork_autoreload_also_check);

use Carp qw(croak);
use Errno qw(EAGAIN ENOMEM);
use Socket qw(MSG_NOSIGNAL);
use Fcntl qw(F_SETFL F_GETFD F_SETFD FD_CLOEXEC O_NONBLOCK
             O_ACCMODE O_RDONLY O_WRONLY);
use IO::Handle ();
use POSIX ();
use Proc::Prefork::Interp::Linux qw(fd_flags);
use Proc::Prefork::Interp::Log ();
use Proc::Prefork::Interp::Protocol ();
use Proc::Prefork::Interp::Server ();
use Proc::Prefork::Interp::CallerState ();
use Proc::Prefork::Interp::Locale ();
use Proc::Prefork::Interp::Environment ();
use Proc::Prefork::Interp::QuitSignals ();
use Proc::Prefork::Interp::FastExit ();
use Proc::Prefork::Interp::MainConstants ();
use Proc::Prefork::Interp::DataHandles ();
use Proc::Prefork::Interp::Timers ();

# [caller-state] What the server inherits from its first caller, before
# the script's initialisation changes anything (only in a server's
# setup: standalone runs skip it).
#
# And PREFORK_INTERP and its fds are the module's from here on: a
# program the initialisation runs (system, qx, a daemon it starts) gets
# neither, as it would get nothing of ours in a standalone run. (With
# the fds, one that outlived a killed server would keep its socket
# listening, and every later call would wait on it; with the variable, a
# Perl program using this module would try to serve on them.) A
# malformed value is left for prefork_initialisation_complete to report.
my $startup_value;      # PREFORK_INTERP as the module was loaded
my $taken_at_load;      # [$parsed, \%fh] from _take_fds (close-on-exec)
if (defined $ENV{+Proc::Prefork::Interp::Protocol::ENV_NAME}) {
    Proc::Prefork::Interp::CallerState::note_load_state();
    Proc::Prefork::Interp::Locale::note_load();
    Proc::Prefork::Interp::Environment::note_load();
    $startup_value = delete $ENV{+Proc::Prefork::Interp::Protocol::ENV_NAME};
    local $@;
    $taken_at_load = eval { [_take_fds($startup_value)] };
    _forked_children_standalone() if $taken_at_load;
}

# A process the initialisation forks without exec (a helper) is a copy
# of the setup: in it, nothing of the server's stays (the handles go,
# closing our fds; prefork_initialisation_complete returns at once, as
# standalone). Through perl's override of the fork built-in: in force
# for code compiled after the module was loaded, and not installed over
# another's. Once the initialisation is complete it only forks.
sub _forked_children_standalone {
    return if defined &CORE::GLOBAL::fork;
    no warnings 'once';
    *CORE::GLOBAL::fork = sub () {
        my $pid = CORE::fork();
        if (defined $pid && $pid == 0 && $taken_at_load) {
            undef $taken_at_load;
            undef $startup_value;
        }
        return $pid;
    };
    return;
}

my %DEFAULTS = (
    max_servers      => 4,
    max_pending      => 16,
    pending_grace    => 1,
    prefork_spares   => 1,
    prefault         => 64,
    hugepages        => 1,
    idle_timeout     => 600,         # ten minutes
    fast_exit        => 0,
    request_timeout  => 30,
    max_errors       => 100,
    log_facility     => 'LOG_USER',
    autoreload_inc   => 1,
    autoreload_extra => [],
    logger           => undef,
);

my @also_check;        # paths from prefork_autoreload_also_check

sub prefork_autoreload_also_check {
    push @also_check, @_;
    return;
}

sub prefork_initialisation_complete {
    my %opts = @_;
    # As the module was loaded (or set since, as perl/t/01-env.t does);
    # once only: a second call, in a call's process, is standalone.
    my $env = $startup_value // $ENV{+Proc::Prefork::Interp::Protocol::ENV_NAME};
    undef $startup_value;
    return unless defined $env;
    # [caller-state] Whatever changed since the module was loaded, the
    # script set: it stays in every call.
    Proc::Prefork::Interp::CallerState::note_init_state();
    Proc::Prefork::Interp::Locale::note_init();
    Proc::Prefork::Interp::Environment::note_init();
    # Where the initialisation left each DATA handle: where every call
    # finds it (see DataHandles).
    Proc::Prefork::Interp::DataHandles::note();
    # The alarms it armed are the calls' (see Timers).
    Proc::Prefork::Interp::Timers::note_and_disarm();

    my $o = _options(%opts);
    my ($p, $fh) = $taken_at_load ? @$taken_at_load : _take_fds($env);
    undef $taken_at_load;
    delete $ENV{+Proc::Prefork::Interp::Protocol::ENV_NAME};
    Proc::Prefork::Interp::Log::setup(
        logger => $o->{logger}, facility => $o->{log_facility}, script => $0,
        listen => $fh->{listen});

    # Buffered output of the initialisation must come out once, from here.
    STDOUT->flush;
    STDERR->flush;

    # The title changes before the fork, so that the server never shows
    # the command line of the caller that started it (with -U it holds
    # that caller's arguments), not even for a moment.
    my $script = $0;
    $0 = "$script [prefork server]";
    # From here the server's signals of its own (QuitSignals) are held:
    # the script's handlers for them must not run in the server.
    my $quit_mask = Proc::Prefork::Interp::QuitSignals::hold();
    my $declined = Proc::Prefork::Interp::Protocol::declined($p->{client_reads_xdata});
    my $pid = CORE::fork();
    unless (defined $pid) {
        my $err = $!;
        POSIX::sigprocmask(POSIX::SIG_SETMASK(), $quit_mask);
        $0 = $script;
        _decline_first_call($declined, $fh->{call}, $err)
            if $err == EAGAIN || $err == ENOMEM;
        croak "Proc::Prefork::Interp: fork: $err";
    }
    POSIX::_exit(0) if $pid;     # the client waits for the setup to exit 0

    # Each call's end would free the main program's constants (see
    # MainConstants): the server keeps them.
    Proc::Prefork::Interp::MainConstants::retain();

    my @files = ($script);
    push @files, values %INC if $o->{autoreload_inc};
    push @files, @{$o->{autoreload_extra}}, @also_check;
    my $executor = Proc::Prefork::Interp::Server->new(
        opts => $o, env => $p, fh => $fh, files => \@files, script => $script,
        quit_mask => $quit_mask,
        greeting => Proc::Prefork::Interp::Protocol::greeting($p->{client_reads_xdata}),
        declined => $declined,
        offered  => Proc::Prefork::Interp::Protocol::offered_bits($p->{client_reads_xdata}),
    )->run;
    # Only in an executor, once per call: it waits for its call and sets
    # up the call's state; the per-call code follows.
    $executor->run;
    Proc::Prefork::Interp::FastExit::arm() if $o->{fast_exit};
    return;
}

# No process for the server (the user's process limit, no memory): as
# a running server declines a call it can make no process for, the
# setup declines its first call to our client, which runs the script
# itself, and ends. Returns (to croak) for other clients.
sub _decline_first_call {
    my ($declined, $call, $err) = @_;
    return unless defined $declined;
    Proc::Prefork::Interp::Log::log_msg('warning',
        "declined the first call: cannot fork the server: $err");
    send($call, $declined, MSG_NOSIGNAL);
    POSIX::_exit(0);
}

sub _options {
    my (%opts) = @_;
    for my $k (sort keys %opts) {
        exists $DEFAULTS{$k}
            or croak "Proc::Prefork::Interp: unknown option '$k'";
    }
    my %o = (%DEFAULTS, %opts);
    for my $k (qw(max_servers max_pending pending_grace prefork_spares
                  prefault idle_timeout request_timeout max_errors)) {
        defined $o{$k} && $o{$k} =~ /\A-?[0-9]+(?:\.[0-9]*)?\z/
            or croak "Proc::Prefork::Interp: option '$k' must be a number";
    }
    $o{prefork_spares} >= 0
        or croak "Proc::Prefork::Interp: option 'prefork_spares' must not be negative";
    ref $o{autoreload_extra} eq 'ARRAY'
        or croak "Proc::Prefork::Interp: option 'autoreload_extra' must be an array ref";
    !defined $o{logger} || ref $o{logger} eq 'CODE'
        or croak "Proc::Prefork::Interp: option 'logger' must be a code ref";
    $o{max_servers} = 1 if $o{max_servers} == 0;
    $o{max_pending} = 1 if $o{max_pending} < 1;
    return \%o;
}

# PREFORK_INTERP's fds as handles (close-on-exec; the listening socket
# and the watcher's stderr non-blocking), with the parsed value.
sub _take_fds {
    my ($env) = @_;
    my $bad = sub {
        croak "Proc::Prefork::Interp: malformed "
            . Proc::Prefork::Interp::Protocol::ENV_NAME . " \"$env\": $_[0]";
    };
    my ($p, $why) = Proc::Prefork::Interp::Protocol::parse_env($env);
    $bad->($why) unless $p;
    my %flags;
    for my $fd (@{$p->{fds}}) {
        $flags{$fd} = fd_flags($fd);
        defined $flags{$fd} or $bad->("fd $fd is not open");
    }
    my $roles = Proc::Prefork::Interp::Protocol::assign_fds($p->{fds}, \%flags);
    my %fh;
    for my $role (qw(listen call watchi watche)) {
        my $fd = $roles->{$role};
        my $acc = $flags{$fd} & O_ACCMODE;
        my $mode = $acc == O_RDONLY ? '<&=' : $acc == O_WRONLY ? '>&=' : '+<&=';
        open($fh{$role}, $mode, $fd)
            or croak "Proc::Prefork::Interp: cannot use fd $fd ($role): $!";
        my $fdflags = fcntl($fh{$role}, F_GETFD, 0);
        fcntl($fh{$role}, F_SETFD, $fdflags | FD_CLOEXEC) if defined $fdflags;
    }
    for my $role (qw(listen watche)) {
        fcntl($fh{$role}, F_SETFL, $flags{$roles->{$role}} | O_NONBLOCK)
            or croak "Proc::Prefork::Interp: cannot make $role non-blocking: $!";
    }
    return ($p, \%fh);
}

1;

__END__

=head1 NAME

Proc::Prefork::Interp - run a Perl script as a prefork-interp server

=head1 SYNOPSIS

    #!/usr/bin/prefork-interp-hardened -U,perl
    use strict;
    use Proc::Prefork::Interp;

    use Some::Slow::Module;          # loaded once, by the server
    our $table = build_big_table();  # computed once (a package variable:
                                     # see PERFORMANCE TIPS)

    prefork_initialisation_complete(max_servers => 8);

    # From here on: once per invocation, in a fresh process, with the
    # caller's stdin/stdout/stderr, @ARGV, %ENV and $0.
    print lookup($table, @ARGV);

=head1 DESCRIPTION

C<prefork-interp-hardened> (installed as
F</usr/bin/prefork-interp-hardened>, see L<prefork-interp-hardened(1)>)
is a small client program named in a script's C<#!> line. The first time the script is run, the client starts it in the
ordinary way; the script loads whatever it needs and then calls
C<prefork_initialisation_complete>, which turns it into a persistent
server listening on a Unix socket. Later invocations of the script only
run the client, which connects to that server and has the per-call part
of the script run on its behalf. The cost of loading is paid once.

Each call runs in its own process, forked from the initialised server,
so calls cannot see each other's state and a call that crashes harms
nothing else. Apart from speed, a call behaves as if the script had
been run directly: same standard streams (the very same open files),
same arguments, same environment, same exit status, including death by
a signal, which the client reproduces.

=head1 FUNCTIONS

Both functions are exported by default.

=head2 prefork_initialisation_complete(%options)

Marks the end of the script's initialisation.

When the script was not started by prefork-interp (the environment
variable C<PREFORK_INTERP> is absent) this returns at once and does
nothing else: the script runs standalone, with C<@ARGV> and everything
else untouched.

Under prefork-interp the calling process (the I<setup>) forks and exits
with status 0; its child becomes the server: it starts a new session,
puts its standard streams on F</dev/null> and from then on reports
problems only to syslog (or, where no syslog daemon listens, to the
file F<messages> in the run directory: see C<log_facility>). The function then returns once in every
I<executor> process, that is once per call, and never in the setup or
the server. The per-call code after it runs in the executor; whatever
way it ends (C<exit>, C<die>, falling off the end, a signal, or
C<exec> of another program) is reported to the client as the wait
status.

It croaks (in the setup, so the message reaches the caller's stderr)
if C<PREFORK_INTERP> is malformed, names a file descriptor that is not
open, or an unknown or invalid option is given.

=head2 prefork_autoreload_also_check(@paths)

Adds files to the set checked for automatic reloading (see
L</AUTOMATIC RELOADING>). Call it before
C<prefork_initialisation_complete>. The paths need not exist yet.

=head1 OPTIONS

=over 4

=item max_servers => N

At most I<N> calls run at once (default 4); further calls wait, having
sent their request (see C<max_pending>), or in the socket's backlog,
until one ends. A negative value means no limit;
0 is taken as 1.

=item max_pending => N

At most I<N> accepted calls are still in the protocol exchange or
waiting for a running slot (default 16, at least 1). A call that
arrives while a running slot is free takes that slot at once, so that
its executor starts the moment it has the request; a call that arrives
while all C<max_servers> slots are taken waits for one after its
exchange. Clients that connect and never finish the exchange therefore
cannot hold slots for long: when all I<N> places are taken and another
client is waiting, or when a call with its whole request is waiting for
a running slot, the oldest call still in the exchange after
C<pending_grace> seconds is dropped (logged as a warning) to make room.
The server's executors therefore number at most C<max_servers> +
C<max_pending> + C<prefork_spares> (plus dropped ones until they are
reaped, which is immediate).

=item pending_grace => SECONDS

How long a call may take over the protocol exchange before it may be
dropped for another (default 1). A well-behaved client finishes in well
under a millisecond; a flood of I<F> connections that never finish
delays a well-behaved call by about I<F> / C<max_pending> *
C<pending_grace> seconds. Unless dropped, an exchange may still take up
to C<request_timeout>.

=item prefork_spares => N

How many idle executors the server keeps forked in advance (default 1).
A call is handed to one of them, so no fork of the (perhaps large)
server process happens while a client waits; the replacement is forked
once no call is in the middle of its protocol exchange with the server. 0 forks one executor per call instead, when the
call arrives. Idle spares do not count against C<max_servers>. With no
spare ready and a fork that fails (the user's process limit, no
memory), the server declines the call before anything of it runs, and
prefork-interp-hardened runs the script directly (the setup does the
same when it cannot fork the server).

=item prefault => MB

How much of the server's memory each spare, and each executor forked
for a call that found no spare, copies for itself before it serves a
call, in megabytes (default 64; 0 turns this off). A call,
the spare's own start-up and perl's global destruction at the end of
the call write to memory the executor still shares copy-on-write with
the server; each first write to a page costs a page fault and a copy
on the caller's time. So a spare's first act, stopping as soon as a call
arrives, is to copy whole 2 MB blocks of the heap into private
transparent huge pages (C<madvise(MADV_COLLAPSE)>, Linux 6.1 or later):
for a server no larger than I<MB>, every whole block of its heap; for a
larger one, the blocks holding the heads of globs, which perl's ending
writes to whatever the call did (before it runs DESTROY methods it takes
and drops a reference on every glob), at most I<MB>. Then the glob-head
pages outside those blocks, 4 kB at a time (C<MADV_POPULATE_WRITE>,
Linux 5.14 or later). An executor forked for a call (every spare was
busy, or C<prefork_spares =E<gt> 0>) copies the same before it serves
the call, without stopping: measured, that costs the call less than the
faults it saves, and with callers in parallel it doubled the calls
completed per second. Copying a block takes about 1 ms, and afterwards
none of its pages faults; with huge pages the executor's exit also frees
one page per 2 MB instead of 512 before the caller gets its exit status.
Nothing else is copied in advance: copying page by page while idle was
measured to cost as much as the faults it saved. Nothing the per-call
code sees changes. The cost: each spare of a server no larger than I<MB>
holds its own copy of the server's heap (a server with one spare uses
about twice the memory of a server without; C<bench/bench> reports
both), and a spare of a larger server the blocks it copied; so does
each executor while its call runs, whether it was a spare or forked for
the call. With
C<prefault =E<gt> 0> a spare shares all its memory with the server until
its call writes to it, and the call pays for each page it writes.

Whatever this is set to, the server keeps the main program's constants
(constant folding puts a whole list such as C<1 .. 300_000> in the
main program), which perl's ending would otherwise free in every
call, writing to each element.

=item hugepages => BOOL

For servers larger than C<prefault> (default true): at startup the
server asks for transparent huge pages for its heap (C<MADV_HUGEPAGE>,
and C<MADV_COLLAPSE> on Linux 6.1 or later, 2 MB at a time, the ranges
the kernel declines tried again once the server is idle), so that
forking an executor and ending it cost per 2 MB rather than per 4 kB
page. This takes some time once, at startup (about 1.5 ms per MB), and
may round memory use up to whole 2 MB pages.

=item fast_exit => BOOL

Opt-in (default false): end each call without perl's global
destruction. What still happens, in this order: every END block runs,
in perl's order (the fast ending is queued after all of them, also
after END blocks compiled during the call); every perl file handle is
flushed, lexical ones included; the process ends with C<_exit> and the
status perl would have used (C<$?> as the END blocks leave it). What is
skipped: C<DESTROY> of objects still alive at the end, closing handles
beyond flushing them (a PerlIO layer that writes a trailer on close does
not write it), C<atexit> handlers and destructors of XS modules, and the
C<DESTRUCT> phase. If an END block dies, perl abandons the queue and the
call ends the ordinary way. Standalone runs (without the client) and
scripts running with taint checks (C<-T>) always end the ordinary way.

Use it for scripts that keep no objects whose destructors matter at
exit: ending a call then costs what an C<exit> costs, where perl's
destruction writes to memory across the server's heap. C<bench/bench>
measures it separately.

=item idle_timeout => SECONDS

The server quits when no call is running and none has arrived for this
long (default 600, ten minutes). Negative: never.

=item request_timeout => SECONDS

How long an executor waits for a client to complete the request
(default 30); after that the call is abandoned. 0 disables the limit.

=item max_errors => N

The server quits when more than I<N> consecutive C<accept> calls fail
with unexpected errors (default 100). Running out of file descriptors
or memory (C<EMFILE>, C<ENFILE>, C<ENOBUFS>, C<ENOMEM>) is not such an
error: the server then leaves waiting connections in the socket's
backlog until one of its calls ends, or for a quarter of a second, and
logs it once until it accepts a call again. So that it seldom comes to
that, the server raises its own soft limit of open files
(C<RLIMIT_NOFILE>) to the hard limit when it starts; every call, the
first included, still runs with its caller's limit (the first caller's
without a caller-state block), as a standalone run would.

=item log_facility => FACILITY

The syslog facility for the server's messages (default C<LOG_USER>).
An empty string turns logging off altogether. Messages are logged with
the identity C<prefork-interp> and the process id, and start with the
script's path.

When no syslog daemon listens on F</dev/log> (containers, minimal
hosts), the messages would be lost; they are then appended to the file
F<messages> in the run directory (the directory of the server's
socket, the user's own, mode 0700), one line each with the time (UTC),
C<prefork-interp[PID]>, the priority and the message. Past 1 MiB the
file is renamed to F<messages.old> (replacing an older one) and begun
anew.

=item logger => CODEREF

If given, called as C<< $coderef->($priority, $message) >> for every
message instead of using syslog; C<$priority> is C<err>, C<warning> or
C<info>. It may be called in the server or in an executor, whose
standard streams may be those of the client or F</dev/null>: write to a
file of your own.

=item autoreload_inc => BOOL

Whether the files in C<%INC> are part of the autoreload set (default
true).

=item autoreload_extra => [PATHS]

More files for the autoreload set.

=back

=head1 STATE OF EACH CALL

When C<prefork_initialisation_complete> returns in an executor:

=over 4

=item *

C<STDIN>, C<STDOUT> and C<STDERR> are the caller's file descriptors 0,
1 and 2, on fds 0, 1 and 2, under the very handles perl opened when
the server started (put there with C<dup2>, not reopened), with the
layers the initialisation left on them. Their buffers are set up again
for the caller's fds as perl sets them up at start-up: C<STDOUT> is
line-buffered when the caller's fd 1 is a terminal and block-buffered
otherwise, and C<tell> counts from the caller's offset. So a failed
flush of C<STDOUT> at the end (a full disk) is reported as perl reports
it: C<Unable to flush stdout: ...> on C<STDERR>, exit status 1 instead
of 0 (with C<fast_exit> too). A layer other than C<:perlio>, C<:crlf>
and C<:encoding> (C<:via>, ...) is left as it is, with its buffering as
the server's first caller had it.

=item *

C<%ENV> is the caller's environment as perl's start-up makes C<%ENV>
of it (the first value of a name that C<execve> gave twice; no entry
with an empty name), C<$0> the script path the caller used and
C<@ARGV> the caller's arguments: what C<perl script args...> would have
given. A variable the initialisation set or deleted is so in every
call, as in every standalone run (told by comparing C<%ENV> when the
module was loaded with C<%ENV> at C<prefork_initialisation_complete>;
one set to exactly the first caller's value counts as the caller's).
So C<$ENV{PATH} = '/usr/bin:/bin'; delete @ENV{qw(IFS CDPATH ENV
BASH_ENV)};> in the initialisation holds for every call, as L<perlsec>
advises. A value the initialisation computed from the first caller's
environment stays that caller's: compute per-call values after
C<prefork_initialisation_complete>. The C library's C<environ> (what a
child gets) is built from C<%ENV>, one entry per name.

=item *

The process holds no file descriptor of the server (listening socket,
watcher pipes, other calls, control sockets, the syslog connection or
the messages file): only 0, 1, 2, whatever the script itself opened
before the call, and the caller's other open fds.

=item *

The caller's open fds above 2 (C<script 3E<lt>file>, the
F</dev/fd/63> of C<script E<lt>(cmd)>, a web server's fds of its
own), when its client passes them (the C<extra-fds> extension, which
prefork-interp's own client uses): each at its own number, not
close-on-exec, as a standalone run inherits them; the call's own opens
get the lowest numbers free. A C<DATA> handle (of C<__DATA__> or
C<__END__>, which perl keeps open on the source file, usually on fd 3)
on such a number moves to the lowest number none of the caller's
takes, position and layers kept, as a standalone perl would have opened the script on a number
its caller left free. Any other number the script's initialisation
holds open itself (a file it opened and kept) stays the script's, as
it would in a standalone run that opened it: the caller's fd of that
number is not passed, and the server's messages say so once for the
call (C<the caller's fd 3 is not passed: the script's initialisation
holds fd 3>). A call whose fd numbers do not fit under the server's
hard limit on open files is refused, with one line on the caller's
stderr and exit status 127. With chiark-utils' client, or any client
that does not use the extension, a call has only fds 0, 1 and 2 of its
caller. The fds are in place before a signal held back during the
set-up reaches the script's handlers.

=item *

It is the leader of a new process group, so that a call can be stopped
as a whole.

=item *

Without the caller's state (a client that does not send it, such as
chiark-utils'), C<SIGINT> and C<SIGPIPE> have their default
dispositions and are not blocked, even if the server was started with
them ignored. With it, they are ignored or blocked exactly when the
caller has them so, unless the initialisation set them (see
C<caller-state> below). C<SIGCHLD> and C<SIGALRM> are as the script
left them during initialisation. C<%SIG> holds what a standalone run's
would: C<undef> for a signal at its default disposition that the script
did not set, C<'IGNORE'> for one its caller ignores.

=item *

Each C<DATA> handle (C<__DATA__> or C<__END__> of the script or of a
module) is where the initialisation left it, whatever other calls read
from it: each call reads it through an open file of its own.

=item *

An alarm the initialisation armed (C<alarm>, or C<Time::HiRes::setitimer>'s
real, virtual or profiling timer) is armed in each call with the time it
had left when the initialisation ended, so that it interrupts the
per-call code as in a standalone run (a fork does not inherit timers);
the setup and the server themselves run with it disarmed.

=item *

The random number generator is reseeded from F</dev/urandom>, and
C<$?>, C<$@> and C<$!> are cleared. The reseeding also replaces a seed
the initialisation set itself: after C<srand(42)> there a standalone run
repeats one sequence in every run, a call does not (the module cannot
tell C<srand(42)> from C<srand(time ^ $$)>, which must not repeat); a
script that wants a fixed sequence calls C<srand> in its per-call code.
Generators with a state of their own (modules' objects, not C<rand>)
made during the initialisation start from the same state in every call,
as after any fork.

=item *

C<$^T> is the time the call reached its executor, so C<-M>, C<-A> and
C<-C> count from the call's start, as they count from a standalone
run's.

=item *

The locale is set from the caller's environment (C<LC_ALL>, the
C<LC_*> variables, C<LANG>) as perl sets it at start-up, C<LC_NUMERIC>
staying C<"C"> underneath outside C<use locale>; a locale the system
lacks falls back to C<LANG>'s, then to C<"C">, without the warning perl
prints at start-up. If the initialisation set a locale itself (one
other than the one it started with), every call keeps it.

=item *

It runs where its caller runs: in the same namespaces and control
groups, under the same security label, on the same CPUs and NUMA memory policy, with the same
scheduling and I/O priority, OOM score adjustment, timer slack,
personality and inherited C<prctl> switches. The module cannot change these for a call; the
prefork-interp client makes them part of the server's name, so a caller
that differs gets a server of its own, started where it runs.

=back

Signals sent to a prefork-interp client that relays them (the
C<signals> extension, which this module offers to clients that announce
C<xdata>, as prefork-interp's own does) reach the call: C<SIGHUP>,
C<SIGINT>, C<SIGQUIT>, C<SIGTERM>, C<SIGUSR1>, C<SIGUSR2>, C<SIGALRM>,
C<SIGWINCH>, job control (C<SIGTSTP>, C<SIGTTIN>, C<SIGTTOU> stop
the call, C<SIGCONT> resumes it), and every other signal but
C<SIGKILL>, C<SIGSTOP>, C<SIGCHLD> and the real-time signals 32 and 33
(C<SIGPWR>, C<SIGPIPE>, C<SIGSEGV>, C<SIGRTMIN+1>, ...). The server sends each to the call's
process group, as a terminal would; a signal that arrives before the
call's code starts waits (blocked) until it does, so the script's own
handler sees it. When the executor stops or continues, the server tells
the client, which stops or goes on with it, so that a shell's C<fg> and
C<bg> work. The server keeps C<SIGCHLD> blocked for its own use; the
executor gets it unblocked. See F<docs/protocol.md> in the source.

If the client goes away while the call runs (its end of the connection
closes), the executor's process group gets C<SIGINT>, and C<SIGKILL>
half a second later if anything of it is still there. Background
processes that the per-call code leaves behind in its group are
otherwise left alone, as they would be after a standalone run. A call
that is not running yet (its request still arriving, even when a
running slot was free for it, or waiting for a slot) is ended with
C<SIGKILL> at once: nothing of the script has run for it, and a
C<SIGINT> would reach the handlers of the initialisation. A call counts
as running once its executor has told the server that the whole request
is in; from then on the executor holds C<SIGINT> blocked until the
call's state is in place, so that the call's own dispositions see it.

Everything done during initialisation is shared, copy-on-write, by all
calls. Do not open connections to databases or other servers before
C<prefork_initialisation_complete>: every call would share them. Do not
read per-call inputs (arguments, environment, standard input) before
it either: those belong to the invocation that happened to start the
server.

=head1 AUTOMATIC RELOADING

The server quits (after finishing the calls it is running) when one of
the files it was started from changes, so that the next invocation
starts a new server with the new code. The checked set is C<$0>, the
files in C<%INC> (unless C<autoreload_inc> is false),
C<autoreload_extra> and the paths given to
C<prefork_autoreload_also_check>. Each path is stat'ed afresh, so
symlinks on the way are resolved again. A file counts as changed if it
exists and

=over

=item *

the file its path names now differs in device, inode, size,
modification time or change time from the one the server recorded when
it started (a new file renamed over the old one; C<cp -p>, C<rsync -t>
or C<install -p>, which write new contents but put an older
modification time back; a symlink swap such as C<current -E<gt>
releases/r2> renamed over the old link), or

=item *

its modification or change time is later than the startup time the
client passed (the socket's modification time when the server was
started): it changed while the initialisation ran.

=back

A file that does not exist is fine. One that did not exist at startup
and appears later counts as changed only if its modification time is
later than the startup time; from then on it is judged like the others.

Files are not examined on every call. The server asks inotify to watch
each file, its directory (editors often replace a file by renaming a
new one over it; a file that did not exist may appear) and the
directory holding each symlink its path goes through (a symlink swap)
and, before
accepting each connection, reads any pending notifications without
waiting. Only when a notification concerns a checked file does it look
at the files again. Where inotify is not available, or a file could
not be watched, those files are examined before each accepted
connection instead.

The check is made before the waiting connection is accepted. When a
file has changed, the server closes its listening socket at once; the
waiting client sees its connection closed without a greeting and, as
prefork-interp clients do, starts a fresh server.

=head1 THE WATCHER

The client starts a watcher process alongside each server. Its stderr
arrives at the server: a message there is logged at C<err> and makes
the server quit; end of file means that the socket was removed or
replaced (a fresh start, C<--kill>, clean-up) and also makes it quit. A
quitting server stops accepting calls, ends its idle spares, waits for
the running calls to finish and report their status, and exits.

C<SIGTERM>, C<SIGINT> and C<SIGHUP> sent to the server itself (C<kill
PID>, a service manager, a shutdown) make it quit the same way, logged
at C<info>; so the callers of running calls still get their statuses.
Handlers the initialisation installed for these signals never run in
the server or in an idle spare (a spare dies of the signal, and the
server forks another); each call has them, as a standalone run would.
Other signals (C<SIGKILL>, C<SIGQUIT>) kill the server as usual, and
the callers of calls under way then lose their statuses.

=head1 PROTOCOL AND COMPATIBILITY

The server speaks version 1 of the prefork-interp protocol, as the C
client of chiark-utils 7.x does, and takes its file descriptors from
C<PREFORK_INTERP>: C<v1,SECS.NSECS> then
C<LISTEN,CALL,WATCH,WATCH>. The two watcher descriptors are told apart
by their access mode (the read end is the watcher's stderr, the write
end its stdin); when that does not decide it, they are taken in
chiark-utils' order, stdin first. Further items and words are ignored.

This server always takes the request's argument strings as
I<interpreter, script, arguments...>, the layout chiark-utils' client
sends, and strips the first two itself, setting C<$0> from the second;
so with either client C<@ARGV> is exactly the script's arguments. A
request with fewer than two argument strings is refused.

Extension data in the greeting is sent only to clients that announce,
with the item C<xdata> in the first word of C<PREFORK_INTERP> (as in
C<v1,SECS.NSECS,xdata>), that they decode its length correctly: our
client does; chiark-utils' client reads that length in host byte order
and would wait for gigabytes, so it gets none. The extension data is
then the text C<full-argv caller-state signals extra-fds>, a list of space-separated
feature names: C<full-argv> tells the client that the server strips
interpreter and script itself (a client that sees no C<full-argv>, for
example when chiark-utils' module is serving, which puts every string
into C<@ARGV>, should send only the script's arguments); C<caller-state>
that the client may send its caller's umask, resource limits, ignored
and blocked signals and niceness after the request (bit C<0x01> of its
first byte; format in F<docs/protocol.md>); C<signals> that it may keep
the connection open to relay signals and job control to the call (bit
C<0x02>; F<docs/protocol.md>); C<extra-fds> that it may pass its
caller's open fds above 2 after the request and any caller-state block
(bit C<0x04>; F<docs/protocol.md>). The executor applies the caller's
state before the per-call code runs, except what the script's own
initialisation changed (its umask, its signal handlers, ...), which
stays as the script set it. A value it cannot apply (a hard limit
above the server's own, a higher priority) ends the call with one line
on the caller's stderr and exit status 127. Without the block (for
example from chiark-utils' client) the call runs with the server's
process state.

A malformed request (a first byte with a bit the server did not offer,
a malformed caller-state or extra-fds block (a length that is not 4
times 1 to 64 numbers, numbers not strictly ascending or outside 3 to
2^31-1), a stdio or extra-fds message carrying no file descriptor,
more than one, or so many that the kernel truncated them (every fd
received is closed), an environment entry without C<=>, a
request not ending in NUL, one longer than 6 MiB + 64 KiB or with more
than 262,144 entries and arguments (the C client's limits), or one not
completed within C<request_timeout>) is logged; the connection is closed
without a status. The request is checked as it arrives and kept as one
buffer until the call has a running slot, so a call waiting in the
exchange costs the server about the size of its request. A connection
whose peer runs under a different user id, group id or set of
supplementary groups than the server (as reported by C<SO_PEERCRED> and
C<SO_PEERGROUPS>) is refused and logged at
C<warning>. So is one with less privilege than the server (a capability
of the server's bounding, permitted, ambient or inheritable set that it
lacks, no-new-privs that the server has not, or a seccomp filter; read
from F</proc/PID/status> while a pidfd holds the caller), which is sent
C<PFI_DECLINED> so that our client runs the script itself.

=head1 PERFORMANCE TIPS

Keep large preloaded data in package variables (C<our %table>), not in
file-scoped lexicals (C<my %table> at the top of the script): when each
call's process ends, perl frees the main program's lexicals, which for
a big structure means tens of milliseconds of writes to copy-on-write
pages in every call; package variables are left alone. Ending the
per-call code with C<POSIX::_exit> after flushing skips perl's teardown
altogether, but also skips C<END> blocks and C<DESTROY> methods.

=head1 LIMITATIONS

Linux only: it relies on C</proc>-style semantics, C<SO_PEERCRED>,
C<pidfd_open> (with a fallback on C<SIGCHLD> for kernels before 5.3)
and inotify (with a fallback on checking modification times).

Perl's hash randomisation seed is fixed when the interpreter starts, so
all calls of one server share it.

Perl reads some environment variables only when it starts; in every
call they act as they did for the caller that started the server,
whatever the call's own C<%ENV> holds: C<PERL5OPT> (options and
modules), C<PERL5LIB> and C<PERLLIB> (C<@INC>), C<PERL_UNICODE> (the
C<-C> flags: C<:utf8> on the standard handles, C<@ARGV> decoding, the
default layers of C<open>; C<${^UNICODE}> and C<${^UTF8LOCALE}>),
C<PERLIO> (the standard handles' layers and the default ones),
C<PERL_HASH_SEED> and C<PERL_PERTURB_KEYS>, C<PERL_SIGNALS>,
C<PERL_DESTRUCT_LEVEL>, C<PERL_BADLANG> and C<PERLIO_DEBUG>.
C<PERL_UNICODE>'s part for the standard handles is not applied per
call: the same flags also decode C<@ARGV> and set C<open>'s defaults,
which cannot be redone once the script is compiled, and a call applying
half of them would match no standalone run. Callers that may differ
in any of these should name them with the client's C<-E> option (for
example C<-E,PERL_UNICODE,-E,PERL5OPT,-U,perl> in the C<#!> line):
each value then gets a server of its own, started with it.

Programs the initialisation runs (C<system>, C<qx>, a daemon it
starts) and processes it forks get nothing of the server's, as nothing
of ours exists in a standalone run: from the module's loading on, the
fds the client passes it are close-on-exec and C<PREFORK_INTERP> is out
of C<%ENV>; in a child of C<fork> they are closed, and
C<prefork_initialisation_complete> returns there at once. (A helper
holding them that outlived a killed server would keep the server's
socket accepting, and later calls would wait on it.) The last is done
through perl's override of C<fork> (C<CORE::GLOBAL::fork>, not
installed over another's), which reaches code compiled after the
module was loaded; not the implicit fork of C<open> with C<-|> or
C<|->, nor one made by XS code. Load the module first: what runs before
it inherits them.

Files opened by the initialisation, and their seek positions, are
shared by all calls, as with any fork (except the C<DATA> handles, see
L</STATE OF EACH CALL>).

Modules loaded lazily by the per-call code are loaded again in every
call and are not part of the autoreload set.

If the per-call code calls C<syslog>, it must call C<openlog> itself;
the executor closes the server's syslog connection.

=head1 INTERNALS

For contributors: the server is split into packages under
C<Proc::Prefork::Interp::>, one concern each; this file only checks
the options and the environment and starts the server.

=over 4

=item Protocol

The wire codec: C<PREFORK_INTERP> parsing, the greeting, request
decoding, the status word. Pure functions on strings, no I/O
(F<t/20-protocol.t>). A change to what is sent or accepted goes here.

=item RequestReader

The request decoded as it arrives (protocol step 4), pure: the limits
shared with the C client (6 MiB + 64 KiB, 262,144 strings), a fault
refused as soon as it arrives, one raw buffer until the call may run
(F<t/31-request-reader.t>; fuzzed against the C decoder by
F<fuzz/perl/fuzz_request.pl>). A change to how a request is read or
bounded goes here.

=item FdMessage

One stdio message (protocol step 3): exactly one fd, or refused with
every fd it brought closed (F<t/30-fd-message.t>).

=item Loop

The event loop as an object: each part adds I<steps> (run every pass),
I<sources> (the fds it polls, with handlers, and its next deadline) and
I<after-steps>. A pass is steps, collect, poll, dispatch. A new fd or
timer goes into the source of the part it belongs to, not into the loop.

=item Pool

The children and every call's state (C<spare>, C<pending>, C<granted>,
C<ready>, C<running>, C<dead>), one method per transition, with the
counts kept as states change, and the spare decision
(C<spares_to_fork>). A change to when a call is let run, dropped or
reaped goes here, and nowhere else.

=item Executor

A child's side of a call: waiting as a spare, the rest of the exchange,
and the set-up of the call's state (stdio, the caller's other fds,
C<%ENV>, C<@ARGV>, C<$^T>, signals, seed). A change to what the per-call code finds goes here.

=item Stdio

The standard handles: on F</dev/null> in the server, the caller's fds
in an executor, always with C<dup2> under perl's own handles, and
their buffer layers pushed again for the call's fds
(F<tests/integration/perl_startup.t>).

=item Locale

A call's locale from its environment, unless the initialisation set
one (F<tests/integration/perl_startup.t>).

=item Environment

A call's C<%ENV>: the caller's, with what the initialisation set or
deleted on top (F<tests/integration/args_env_stdio.t>).

=item DataHandles

The C<DATA> handles of the script and of modules, noted where the
initialisation left them and reopened in each executor, so that calls
do not share their offset (F<tests/integration/perl_data_handle.t>).

=item Timers

The interval timers the initialisation armed, disarmed in the setup and
re-armed in each call with the time they had left
(F<tests/integration/perl_timers.t>).

=item CallerState

The C<caller-state> extension: the block's decoder (pure,
F<t/13-callerstate-unit.t>) and applying the caller's umask, limits,
signal sets and niceness in the executor, keeping what the script's
initialisation set (F<t/14-callerstate.t>).

=item PeerCreds

At accept: the caller's gid and groups (C<SO_PEERCRED>,
C<SO_PEERGROUPS>) must be the server's, and it must hold every privilege
of the server's (capability sets, no-new-privs, seccomp: C<lacks>).

=item MainConstants

Keeps the main program's constants from being freed at each call's
end (see C<prefault>).

=item FastExit

The opt-in C<fast_exit> ending of a call (t/15-fast-exit.t).

=item Memory

Prefaulting and huge pages; the plans are pure functions of
F</proc/self/maps> (F<t/22-memory.t>).

=item Autoreload

The check for changed files, with inotify and stat backends; what it
compares of a file is B<FileIdentity>'s (t/30-fileidentity.t).

=item Linux

Syscall numbers, pidfd, madvise, inotify syscalls, signalfd, prlimit,
a getsockopt with a large buffer and the one poll wrapper. Kernel plumbing goes here.

=item Log

Syslog or the user's logger; B<LogFile>, the file F<messages> in the
run directory where no syslog daemon listens (t/31-logfile.t).

=item Title

The server's process title, the script and its count of calls, which
C<--list> reads (t/30-title.t).

=item Relay

The C<signals> extension: relayed signal bytes to the call's process
group, the words for stops and continues, the C<SIGCHLD> signalfd
(F<t/13-relay.t>, F<docs/protocol.md>). Pool, Executor and Server call
it at hooks marked C<[signals]>.

=item ExtraFds

The C<extra-fds> extension: the block's pure decoders, receiving its
fds, and placing each at its number once the executor holds nothing of
the server's, where they arrived, with at most one number free besides
theirs (F<t/18-extra-fds-unit.t>, F<t/18-extra-fds-place.t>, F<t/19-extra-fds.t>,
F<docs/protocol.md>). Executor calls it at hooks marked C<[extra-fds]>.

=item QuitSignals

C<SIGTERM>, C<SIGINT> and C<SIGHUP> to the server, through a signalfd:
they make it quit as C<--kill> does (THE WATCHER), and the script's
handlers for them stay its calls
(F<t/17-quit-signals.t>, F<tests/integration/server_signals.t>).

=item Server

Glue: owns the listening socket and the watcher, greets and hands
calls to the pool, quits, and assembles the loop.

=back

A forked child leaves the server's code by returning its Executor
object up the stack (the loop ends on it); C<prefork_initialisation_complete>
then runs it and returns to the per-call code.

=head1 SEE ALSO

L<prefork-interp-hardened(1)> (the client), L<IO::FDPass>, L<Socket::MsgHdr>,
L<Sys::Syslog>; F<docs/design.md> in the source (installed in
F</usr/share/doc/prefork-interp-hardened/>) for the design, protocol and
security model.

chiark-utils' C<prefork-interp> (Debian B<chiark-utils-bin>, installed as
F</usr/bin/prefork-interp>) speaks the same protocol and can run scripts
that use this module; its own module of the same name (B<chiark-scripts>)
lives in F</usr/share/perl5>, which comes after the directories this
module is installed into.

=head1 LICENCE

Part of prefork-interp. Licensed under the GNU General Public License,
version 3 or later.

=cut
