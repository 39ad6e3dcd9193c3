package Proc::Prefork::Interp::Memory;

# Ending a call costs page faults: perl's global destruction (and the
# per-call code) writes to pages that the executor still shares,
# copy-on-write, with the server. A small server's idle spares copy
# their pages in advance ('prefault'); a large server instead asks for
# transparent huge pages, which make forking and ending an executor cost
# per 2 MB instead of per 4 kB page.
#
# The plans (which ranges, in which order) are pure functions of the
# process's mappings, unit-tested; the rest applies them with madvise.

use strict;
use warnings;

use Errno qw(EINTR);
use Socket qw(MSG_PEEK);
use Proc::Prefork::Interp::Linux qw(have_madvise madvise poll_in
    MADV_HUGEPAGE MADV_POPULATE_WRITE MADV_COLLAPSE);

use constant {
    PREFAULT_CHUNK => 256 << 10,      # bytes prefaulted between checks for a call
    HUGE_PAGE      => 2 << 20,
    PAGE           => 4096,
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
# what one spare prefaults.
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

# What a spare prefaults, at most $budget bytes: the small regions
# whole (the interpreter's and libraries' data), then the heap, then
# larger anonymous mappings; of a region too large for what is left,
# its start and its end, half each (for the heap: the interpreter's own
# structures, allocated first, and where new allocations come from).
# The middle of a large heap is what the per-call code rarely writes:
# the data preloaded for it to read.
sub prefault_plan {
    my ($budget, @regions) = @_;
    my @heap = grep { $_->[2] eq '[heap]' } @regions;
    my @rest = sort { ($a->[1] - $a->[0]) <=> ($b->[1] - $b->[0]) }
               grep { $_->[2] ne '[heap]' } @regions;
    # Large anonymous mappings (big arrays and strings) come after the
    # heap: they are more likely the preloaded data itself.
    my @small = grep { $_->[1] - $_->[0] <= HUGE_PAGE } @rest;
    my @large = grep { $_->[1] - $_->[0] >  HUGE_PAGE } @rest;
    my @plan;
    for my $r (@small, @heap, @large) {
        my ($start, $end) = @$r;
        last if $budget < PAGE;
        if ($end - $start <= $budget) {
            push @plan, [$start, $end];
            $budget -= $end - $start;
            next;
        }
        my $half = int($budget / 2) & ~(HUGE_PAGE - 1);
        $half = int($budget / 2) & ~(PAGE - 1) if $half < HUGE_PAGE;
        push @plan, [$start, $start + $half], [$end - $half, $end];
        $budget = 0;
    }
    return @plan;
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
                   prefault => 0, small => 0, ending => [] }, $class;
}

# At startup. Spares prefault up to 'prefault' MB whatever the size (see
# prefault_plan); a server larger than that keeps its heap in huge
# pages as well, and does not repopulate its own (own_prefault).
sub start {
    my ($self) = @_;
    my $o = $self->{opts};
    return unless have_madvise();
    my @regions = writable_regions();
    $self->{prefault} = 1 if $o->{prefault} > 0;
    $self->{ending} = [page_ranges(glob_addresses())] if $self->{prefault};
    $self->{small} = is_small($o->{prefault}, @regions);
    return unless $o->{hugepages} && !$self->{small};
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

sub prefaulting   { return $_[0]{prefault} }
sub small         { return $_[0]{small} }
sub collapse_todo { return !!$_[0]{collapse_retry} }

# The pages a spare copies first (prefault_ending), worked out once in
# the server, after the script's initialisation.
sub ending_ranges { return $_[0]{ending} }

# Bytes each spare prefaults.
sub spare_budget {
    my ($self) = @_;
    return $self->{prefault} ? $self->{opts}{prefault} * (1 << 20) : 0;
}

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

# The server's own side of the same cost: after each fork its pages are
# copy-on-write too, and the first write to each (its event loop, the
# next call's accept) takes a fault. Once the newest spare has copied
# what it shares ('D'), the server holds the only mapping of most of
# its pages, and populating them for writing makes them writable again
# without copying. Done only while idle, stopped by a call.
sub own_prefault {
    my ($self) = @_;
    local $!;
    for my $r (writable_regions()) {
        my ($at, $end) = @$r;
        while ($at < $end) {
            return if $self->{call_waiting}->();
            my $len = $end - $at;
            $len = PREFAULT_CHUNK if $len > PREFAULT_CHUNK;
            last if madvise($at, $len, MADV_POPULATE_WRITE) < 0;
            $at += $len;
        }
    }
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

#---------------------------------------------------------------- spare side

# In a spare, at once: copies the pages the ending of its call will write
# whatever the call does ($ranges from page_ranges(glob_addresses())),
# stopping for a call. Bounded and needed by the next call, this is not
# left for idle time: a spare forked while a call runs does it then, on
# a CPU the call leaves free.
sub prefault_ending {
    my ($ctl, $ranges) = @_;
    local $!;
    my $since_check = 0;
    for my $r (@$ranges) {
        if (($since_check += $r->[1] - $r->[0]) >= PREFAULT_CHUNK) {
            return 0 if _call_arrived($ctl);
            $since_check = 0;
        }
        madvise($r->[0], $r->[1] - $r->[0], MADV_POPULATE_WRITE);
    }
    return 1;
}

# Whether the server has handed this spare a call. Its go-ahead for
# idle-time prefaulting ('P') is not one: it stays unread, for
# prefault_when_allowed.
sub _call_arrived {
    my ($ctl) = @_;
    return 0 unless poll_in($ctl, 0) > 0;
    my $got = recv($ctl, my $byte, 1, MSG_PEEK);
    return !(defined $got && $byte eq 'P');
}

# In a spare: waits for the server's go-ahead ('P') or a call; after the
# go-ahead, prefaults until done or a call arrives, and reports 'D' when
# done.
sub prefault_when_allowed {
    my ($ctl, $budget) = @_;
    for (;;) {
        my $n = poll_in($ctl, -1);
        next if $n < 0 && $! == EINTR;
        return if $n <= 0;
        my $got = recv($ctl, my $byte, 1, MSG_PEEK);
        return unless defined $got && $byte eq 'P';
        sysread($ctl, $byte, 1);
        syswrite($ctl, 'D') if prefault($ctl, $budget);
        return;
    }
}

# In an idle spare: copy the shared pages now, a chunk at a time, and
# stop as soon as a call arrives on the control socket. Each whole 2 MB
# of a region is copied into a private transparent huge page where the
# kernel can (MADV_COLLAPSE): the call then takes no copy-on-write
# faults there, and ending the executor frees one page per 2 MB instead
# of 512, which is most of what an executor's exit costs the caller.
# The rest, and every 2 MB the kernel will not collapse, is populated
# in 4 kB pages. True if it got to the end.
sub prefault {
    my ($ctl, $budget) = @_;
    local $!;
    for my $r (prefault_plan($budget, writable_regions())) {
        my ($at, $end) = @$r;
        my $collapse = 1;
        while ($at < $end) {
            return 0 if poll_in($ctl, 0) != 0;
            if ($collapse && !($at & (HUGE_PAGE - 1)) && $end - $at >= HUGE_PAGE) {
                # A huge page still shared with the server (a large
                # server keeps its heap in them) is split first:
                # collapsing a range the server maps whole changes nothing.
                madvise($at, PAGE, MADV_POPULATE_WRITE);
                if (madvise($at, HUGE_PAGE, MADV_COLLAPSE) == 0) {
                    $at += HUGE_PAGE;
                    next;
                }
                # Unsupported (an old kernel, THP off, a file mapping) or
                # short of memory: the rest of this region in 4 kB pages.
                $collapse = 0;
            }
            my $len = $end - $at;
            $len = PREFAULT_CHUNK if $len > PREFAULT_CHUNK;
            my $boundary = ($at + HUGE_PAGE) & ~(HUGE_PAGE - 1);
            $len = $boundary - $at if $collapse && $at + $len > $boundary;
            last if madvise($at, $len, MADV_POPULATE_WRITE) < 0;
            $at += $len;
        }
    }
    return 1;
}

1;
