package Proc::Prefork::Interp::Log;

# The server's and executors' messages: to the user's logger callback
# if there is one, else to syslog, else nowhere (the server's stderr is
# /dev/null). Every message starts with the script's path.

use strict;
use warnings;

use Exporter qw(import);
our @EXPORT_OK = qw(log_msg);

use Sys::Syslog ();

my $logger;            # user's logging callback, if any
my $syslog_args;       # [ident, options, facility] when syslog is in use
my $syslog_open = 0;
my $prefix = '';

# Called once, in the setup: $logger wins over $facility; an empty
# facility turns syslog off. The connection is opened at once, while
# the setup still runs with the caller's environment.
sub setup {
    my (%args) = @_;
    $logger = $args{logger};
    $prefix = "$args{script}: ";
    if (!$logger && length $args{facility}) {
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
    return unless $syslog_args;
    local ($@, $!);
    unless ($syslog_open) {
        eval { Sys::Syslog::openlog(@$syslog_args); 1 } or return;
        $syslog_open = 1;
    }
    eval { Sys::Syslog::syslog($priority, '%s', $message); 1 };
    return;
}

# In an executor: the server's syslog connection is not the call's.
sub close_log {
    return unless $syslog_open;
    local ($@, $!);
    eval { Sys::Syslog::closelog(); 1 };
    $syslog_open = 0;
    return;
}

1;
