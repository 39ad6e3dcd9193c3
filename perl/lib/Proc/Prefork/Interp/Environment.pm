package Proc::Prefork::Interp::Environment;

# A call's %ENV: its caller's environment as perl's own start-up makes
# %ENV of it, with what the script's initialisation set on top, as in
# every standalone run.
#
# What the initialisation set is told as for the umask (CallerState)
# and the locale (Locale): by comparing %ENV when the module was loaded
# (the first caller's) with %ENV at prefork_initialisation_complete. A
# variable it set to another value, or removed, is so in every call;
# one it set to exactly the first caller's value counts as the caller's.
# A script that cleans its environment for its children (PATH, IFS,
# CDPATH, as perlsec advises) must not find the caller's back in a call.

use strict;
use warnings;

use Proc::Prefork::Interp::Protocol ();

my $at_load;        # %ENV when the module was loaded, without our variable
my %set;            # what the initialisation set: name => value
my @removed;        # and the names it removed

sub _current {
    my %env = %ENV;
    delete $env{+Proc::Prefork::Interp::Protocol::ENV_NAME};
    return \%env;
}

sub note_load {
    $at_load = _current();
    return;
}

# At prefork_initialisation_complete.
sub note_init {
    return unless $at_load;
    my $now = _current();
    %set = map { $_ => $now->{$_} }
        grep { !exists $at_load->{$_} || $at_load->{$_} ne $now->{$_} }
        keys %$now;
    @removed = grep { !exists $now->{$_} } keys %$at_load;
    return;
}

# In an executor: the caller's environment (RequestReader::request).
sub install {
    my ($env) = @_;
    %ENV = %$env;
    return;
}

# In an executor, after what perl's start-up derives from the caller's
# environment (the locale) is in place: what the initialisation set.
sub apply_init_changes {
    @ENV{keys %set} = values %set;
    delete @ENV{@removed};
    return;
}

1;
