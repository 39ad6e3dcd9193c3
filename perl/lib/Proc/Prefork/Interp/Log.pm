package Proc::Prefork::Interp::Log;

# The server's and executors' messages: to the user's logger callback
# if there is one, else to syslog when a daemon listens, else to the
# file `messages` in the run directory (LogFile); an empty facility
# turns logging off (the server's stderr is /dev/null). Every message
# starts with the script's path.

use strict;
use warnings;

use Exporter qw(import);
our @EXPORT_OK = qw(log_msg);

use Sys::Syslog ();
use Proc::Prefork::Interp::LogFile ();

my $logger;            # user's logging callback, if any
my $syslog_args;       # [ident, options, facility] when syslog is in use
my $syslog_open = 0;
my $logfile;           # LogFile, when no syslog daemon listens
my $prefix = '';

# Called once, in the setup: $logger wins over $facility; an empty
# facility turns logging off. The connection (or file) is opened at
# once, while the setup still runs with the caller's environment.
# listen: the server's listening socket, whose directory is the run
# directory.
sub setup {
    my (%args) = @_;
    $logger = $args{logger};
    $prefix = "$args{script}: ";
    if (!$logger && length $args{facility}
        && !Proc::Prefork::Interp::LogFile::syslog_reachable()) {
        # Every message would be lost: keep them where the user finds them.
        my ($dir, $held) = Proc::Prefork::Interp::LogFile::dir_of_socket($args{listen});
        $logfile = Proc::Prefork::Interp::LogFile->new($dir, held => $held)
            if defined $dir;
    }
    if (!$logger && !$logfile && length $args{facility}) {
        $syslog_args = ['prefork-interp', 'ndelay,nofatal,pid', $args{facility}];
        local ($@, $!);
        eval { Sys::Syslog::openlog(@$syslog_args); 1 } and $syslog_open = 1;
    }
    return;
}

sub log_msg {
    my ($priority, $message) = @_;
    $message = $prefix . $message;
    if ($logger) {
        local ($@, $!);
        eval { $logger->($priority, $message); 1 };
        return;
    }
    return $logfile->write($priority, $message) if $logfile;
    return unless $syslog_args;
    local ($@, $!);
    unless ($syslog_open) {
        eval { Sys::Syslog::openlog(@$syslog_args); 1 } or return;
        $syslog_open = 1;
    }
    eval { Sys::Syslog::syslog($priority, '%s', $message); 1 };
    return;
}

# In a child just forked from the server: the server's syslog connection
# is not the child's (it reconnects if it logs); the messages file stays
# open until the call's code starts (close_log), so that what goes wrong
# before then (a protocol error, a refused call) is still logged.
sub forked {
    return unless $syslog_open;
    local ($@, $!);
    eval { Sys::Syslog::closelog(); 1 };
    $syslog_open = 0;
    return;
}

# In an executor, the fds the log holds, to tell them from the script's.
# The syslog connection is closed first (logging opens it again), so it
# holds none then.
sub own_fds {
    forked();
    return $logfile ? $logfile->fds : ();
}

# In an executor, last before the call's code: nothing of the log stays.
sub close_log {
    $logfile->close if $logfile;
    $logfile = undef;
    return forked();
}

1;
