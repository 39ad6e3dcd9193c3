package Proc::Prefork::Interp::Memory;

# A call, its spare's own start and perl's global destruction at its
# end write to pages the executor still shares, copy-on-write, with the
# server; each first write to a page is a fault and a copy on the
# caller's time. Every child of the server therefore copies, as its
# first act, whole 2 MB blocks into private huge pages: every block of a
# small server's heap, and of a larger server the blocks perl's ending
# writes to whatever the call did (those holding glob heads). A spare
# stops for a call; a child forked for a call that found no spare copies
# them all before it serves it (measured: the copy costs it less than
# the faults it saves, and with callers in parallel far less). A large
# server also keeps its heap in transparent huge pages, which make
# forking and ending an executor cost per 2 MB instead of per 4 kB
# page. Nothing is copied page by page ahead of a call: measured, that
# cost as much as the faults it saved and slowed the call running
# beside it.
#
# The plans (which blocks and pages) are pure functions of the
# process's mappings, unit-tested; the rest applies them with madvise.

use strict;
use warnings;

use Errno qw(EINVAL);
use Proc::Prefork::Interp::Linux qw(have_madvise madvise poll_in
    MADV_HUGEPAGE MADV_POPULATE_WRITE MADV_COLLAPSE);

use constant {
    CHECK_EVERY => 256 << 10,      # bytes copied between checks for a call
    HUGE_PAGE   => 2 << 20,
    PAGE        => 4096,
};

#---------------------------------------------------------------- pure plans

# /proc/self/maps text to the private writable mappings as
# [start, end, name], the interpreter's heap first.
sub parse_maps {
    my ($text) = @_;
    no warnings 'portable';     # 64-bit addresses
    my (@heap, @rest);
    for my $line (split /\n/, $text) {
        my ($start, $end, $perm, $name) =
            $line =~ /\A([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+ *(.*?)\z/
            or next;
        next unless $perm eq 'rw-p';
        next if $name =~ /\A\[(?:vvar|vdso|vsyscall|stack)/;
        push @{$name eq '[heap]' ? \@heap : \@rest}, [hex $start, hex $end, $name];
    }
    return (@heap, @rest);
}

# Whether a server with these mappings counts as small: no larger than
# what one spare may copy.
sub is_small {
    my ($prefault_mb, @regions) = @_;
    my $total = 0;
    $total += $_->[1] - $_->[0] for @regions;
    return $total <= $prefault_mb * (1 << 20);
}

# The whole 2 MB pages of the heap and of anonymous mappings, as
# [start, end]: what a large server keeps in huge pages.
sub huge_page_ranges {
    my (@regions) = @_;
    my @ranges;
    for my $r (grep { $_->[2] eq '[heap]' || $_->[2] eq '' } @regions) {
        my $start = ($r->[0] + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
        my $end   = $r->[1] & ~(HUGE_PAGE - 1);
        push @ranges, [$start, $end] if $end > $start;
    }
    return @ranges;
}

# Page-aligned [start, end] ranges covering the given addresses, merged
# where they touch.
sub page_ranges {
    my (@addresses) = @_;
    my @ranges;
    for my $page (sort { $a <=> $b } map { $_ & ~(PAGE - 1) } @addresses) {
        if (@ranges && $page <= $ranges[-1][1]) {
            $ranges[-1][1] = $page + PAGE if $page + PAGE > $ranges[-1][1];
        } else {
            push @ranges, [$page, $page + PAGE];
        }
    }
    return @ranges;
}

# The whole 2 MB blocks a spare copies first, as huge pages, before its
# own start-up writes to anything: those holding any of the $ending
# pages ([start, end] ranges), then, for a small server, every other
# whole block of its heap and anonymous mappings; at most $budget bytes.
sub first_blocks {
    my ($budget, $small, $ending, @regions) = @_;
    my @blocks;
    for my $r (huge_page_ranges(@regions)) {
        for (my $at = $r->[0]; $at < $r->[1]; $at += HUGE_PAGE) {
            push @blocks, $at;
        }
    }
    my %hot;
    for my $r (@$ending) {
        for (my $page = $r->[0]; $page < $r->[1]; $page += PAGE) {
            $hot{$page & ~(HUGE_PAGE - 1)} = 1;
        }
    }
    my @first = grep { $hot{$_} } @blocks;
    push @first, grep { !$hot{$_} } @blocks if $small;
    my $most = int($budget / HUGE_PAGE);
    splice(@first, $most) if @first > $most;
    return @first;
}

# The parts of the [start, end] ranges that lie outside the 2 MB blocks
# in %$copied (block start => true), split where they cross a block.
sub outside_blocks {
    my ($ranges, $copied) = @_;
    my @outside;
    for my $r (@$ranges) {
        my ($at, $end) = @$r;
        while ($at < $end) {
            my $block = $at & ~(HUGE_PAGE - 1);
            my $stop = $block + HUGE_PAGE < $end ? $block + HUGE_PAGE : $end;
            push @outside, [$at, $stop] unless $copied->{$block};
            $at = $stop;
        }
    }
    return @outside;
}

sub writable_regions {
    open(my $maps, '<', '/proc/self/maps') or return;
    local $/;
    my $text = <$maps>;
    return parse_maps($text // '');
}

#---------------------------------------------------------------- server side

# opts: the server's options; call_waiting: true while a connection
# waits to be accepted (idle-time work stops for it).
sub new {
    my ($class, %args) = @_;
    return bless { opts => $args{opts}, call_waiting => $args{call_waiting},
                   ending => [], first => [] }, $class;
}

# At startup, after the script's initialisation: what spares copy (up to
# 'prefault' MB, see first_blocks); a server larger than that keeps its
# heap in huge pages as well.
sub start {
    my ($self) = @_;
    my $o = $self->{opts};
    return unless have_madvise();
    my @regions = writable_regions();
    my $small = is_small($o->{prefault}, @regions);
    if ($o->{prefault} > 0) {
        $self->{ending} = [page_ranges(glob_addresses())];
        $self->{first} = [first_blocks($o->{prefault} * (1 << 20), $small,
                                       $self->{ending}, @regions)];
    }
    return unless $o->{hugepages} && !$small;
    local $!;
    for my $r (huge_page_ranges(@regions)) {
        my ($start, $end) = @$r;
        madvise($start, $end - $start, MADV_HUGEPAGE);
        # 2 MB at a time. The kernel declines some while the pages
        # are still shared with the child serving the first call
        # or not yet on its LRU lists: those are tried once more
        # when the server is next idle (collapse_retry).
        for (my $at = $start; $at < $end; $at += HUGE_PAGE) {
            next if madvise($at, HUGE_PAGE, MADV_COLLAPSE) == 0;
            push @{$self->{collapse_retry}}, $at;
        }
    }
    return;
}

sub collapse_todo { return !!$_[0]{collapse_retry} }

# Each declined range is tried once more, a range at a time, stopping
# for a call that is waiting (about 0.3 ms a range).
sub collapse_retry {
    my ($self) = @_;
    my $todo = $self->{collapse_retry} or return;
    local $!;
    while (defined(my $at = shift @$todo)) {
        madvise($at, HUGE_PAGE, MADV_COLLAPSE);
        last if $self->{call_waiting}->();
    }
    delete $self->{collapse_retry} unless @$todo;
    return;
}

# Where perl's ordinary ending writes whatever the call did. Before it
# runs DESTROY methods, perl visits every glob and takes and drops a
# reference to it while it clears its slots (sv_clean_objs): a write to
# the head of every glob of every package, spread over the heap with
# the rest of the interpreter's values. In an executor each page is a
# copy-on-write fault (a few hundred pages for a script with a hundred
# and fifty modules loaded), and what a spare copies first
# (prefault_ending).
sub glob_addresses {
    require B;
    my @addresses;
    my @packages = ('main::');
    while (defined(my $package = shift @packages)) {
        no strict 'refs';
        my $stash = \%{$package};
        for my $name (keys %$stash) {
            my $gv = B::svref_2object(\$stash->{$name});
            next unless $gv->isa('B::GV');
            push @addresses, $$gv;
            # Nested packages; main:: holds itself.
            push @packages, ($package eq 'main::' ? '' : $package) . $name
                if $name =~ /::\z/ && $name ne 'main::';
        }
    }
    return @addresses;
}

#---------------------------------------------------------------- child side

# In a freshly forked child, before anything else writes: the 2 MB
# blocks worked out at start (copy_first), then the glob-head pages
# outside them (prefault_ending). A spare ($ctl its control socket)
# stops for a call; a child forked for a call ($ctl undef) copies all.
sub copy_ahead {
    my ($self, $ctl) = @_;
    my $copied = copy_first($ctl, $self->{first});
    prefault_ending($ctl, [outside_blocks($self->{ending}, $copied)]);
    return;
}

# A child's first act, before its own start-up writes to anything: the
# blocks of first_blocks, each copied whole into a private huge page
# (MADV_COLLAPSE); a spare ($ctl its control socket) stops for a call,
# a child forked for a call ($ctl undef) copies them all. Returns the
# blocks copied
# (start => true). Copying 2 MB at once costs less than the page
# faults of the few dozen pages of it that the spare's start and its
# call write, and afterwards none of its pages faults; page by page,
# each fault costs a trap, and the first access to each 4 kB page after
# it one more on some virtual machines.
sub copy_first {
    my ($ctl, $blocks) = @_;
    local $!;
    my %copied;
    for my $at (@$blocks) {
        last if _call_arrived($ctl);
        # A block the server maps as one huge page (a large server's
        # heap) is split first: collapsing it would change nothing.
        madvise($at, PAGE, MADV_POPULATE_WRITE);
        if (madvise($at, HUGE_PAGE, MADV_COLLAPSE) == 0) {
            $copied{$at} = 1;
        } elsif ($! == EINVAL) {
            last;   # no huge pages here (an old kernel, THP off)
        }
    }
    return \%copied;
}

# Next, at once: the pages the ending of its call will write whatever
# the call does that copy_first left (page_ranges(glob_addresses())
# outside the blocks it copied: a heap's ends, a block the kernel would
# not collapse); a spare stops for a call, as in copy_first.
sub prefault_ending {
    my ($ctl, $ranges) = @_;
    local $!;
    my $since_check = 0;
    for my $r (@$ranges) {
        if (($since_check += $r->[1] - $r->[0]) >= CHECK_EVERY) {
            return 0 if _call_arrived($ctl);
            $since_check = 0;
        }
        madvise($r->[0], $r->[1] - $r->[0], MADV_POPULATE_WRITE);
    }
    return 1;
}

# Whether the server has handed this spare a call (or gone); never,
# without a control socket (a child forked for a call has it already).
sub _call_arrived {
    my ($ctl) = @_;
    return 0 unless $ctl;
    return poll_in($ctl, 0) != 0;
}

1;
