package Proc::Prefork::Interp::MainConstants;

# Why a call's ordinary end can cost in proportion to the script's data.
# Perl's ending frees the main program's op tree, even when it destroys
# nothing else (PERL_DESTRUCT_LEVEL 0). On a perl built with threads
# (Debian's), every constant of the main program lives in the main
# pad, and constant folding puts whole lists there: `map { ... } 1 ..
# 300_000` holds an array of 300,000 numbers. Freeing it writes to every
# one of them, in pages the executor still shares copy-on-write with the
# server: traced, 3,200 page faults at the end of each call of a script
# that builds its tables that way, against 230 once they are kept.
#
# The server therefore keeps a reference to each of those values. When
# the op tree goes, each loses one reference instead of being freed.
# Only the main program's read-only constants are kept: they cannot
# change in a call, so they cannot come to hold the last reference to
# an object. Named lexicals (file-scoped `my` variables) and the ops'
# scratch values are the script's, and when perl frees them, and so
# runs DESTROY, is left exactly as it was.

use strict;
use warnings;

use B ();

my @kept;

# In the server, once, before the first executor is forked. Returns how
# many values it keeps.
sub retain {
    my $padlist = B::main_cv()->PADLIST;
    return 0 unless $padlist->can('ARRAY');
    my ($names, $pad) = $padlist->ARRAY;
    return 0 unless $names->can('ARRAY') && $pad->can('ARRAY');
    my @names = $names->ARRAY;
    my @values = $pad->ARRAY;
    my $n = 0;
    # Slot 0 is @_ of the main program.
    for my $i (1 .. $#values) {
        my $sv = $values[$i];
        next if _named($names[$i]) || !_constant($sv);
        push @kept, $sv->object_2svref;
        $n++;
    }
    return $n;
}

# A lexical's name is its sigil and identifier.
sub _named {
    my ($name) = @_;
    return 0 unless $name && $name->can('PV');
    my $pv = $name->PV;
    return defined $pv && length $pv > 1;
}

use constant READ_ONLY => B::SVf_READONLY() | (defined &B::SVf_PROTECT ? B::SVf_PROTECT() : 0);

sub _constant {
    my ($sv) = @_;
    return 0 if $sv->isa('B::SPECIAL') || !$sv->can('object_2svref');
    return 0 if $sv->FLAGS & B::SVf_ROK();
    return $sv->FLAGS & READ_ONLY;
}

1;
