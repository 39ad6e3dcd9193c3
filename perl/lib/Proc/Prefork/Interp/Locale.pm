package Proc::Prefork::Interp::Locale;

# The locale of a call. perl sets its locale from the environment when
# it starts (LC_ALL, the LC_* variables, LANG), so a standalone run has
# its caller's; the server's is its first caller's. An executor sets it
# again from the call's environment, unless the script's
# initialisation chose a locale itself: a standalone run would have
# that one too.

use strict;
use warnings;

use POSIX ();

my $at_load;      # the locale when the module was loaded
my $script_set;   # true if the initialisation changed it since

sub note_load {
    $at_load = _current();
    return;
}

# At prefork_initialisation_complete.
sub note_init {
    my $now = _current();
    $script_set = defined $at_load && $now ne $at_load;
    return;
}

# In an executor, with the call's %ENV in place. As perl at start-up:
# setlocale(LC_ALL, "") (POSIX::setlocale keeps LC_NUMERIC "C"
# underneath outside "use locale", as perl does); a locale the system
# lacks falls back to LANG's, then to "C". perl's start-up warning
# about such a locale is not repeated.
sub for_call {
    return if $script_set;
    my $lc_all = POSIX::LC_ALL();
    return if defined POSIX::setlocale($lc_all, '');
    my $lang = $ENV{LANG};
    return if defined $lang && length $lang
        && defined POSIX::setlocale($lc_all, $lang);
    POSIX::setlocale($lc_all, 'C');
    return;
}

sub _current { return POSIX::setlocale(POSIX::LC_ALL()) // '' }

1;
