package Proc::Prefork::Interp::CallerState;

# The caller-state extension (docs/protocol.md, "caller-state"): a call
# runs with its caller's umask, resource limits, ignored and blocked
# signals and niceness, as a standalone run of that caller would.
#
# decode() is pure: bytes in, a checked state or one line saying what is
# wrong out. apply() changes the calling process (an executor, before
# the script's per-call code runs). What the script's own initialisation
# set stays as the script set it, since a standalone run would have it
# too: note_load_state() (when this package is loaded) and
# note_init_state() (at prefork_initialisation_complete) tell apart what
# the server inherited from its first caller from what the script changed.

use strict;
use warnings;

use Config ();
use POSIX ();
use Proc::Prefork::Interp::Linux qw(get_rlimit set_rlimit);

use constant {
    TOKEN     => 'caller-state',   # offered in the greeting's xdata
    USE_BIT   => 0x01,             # the client's step-2 byte uses it
    MAX_BLOCK => 8192,             # largest block length L
    RLIM_INF  => ~0,               # "inf" on the wire
};

# Indexed by the Linux RLIMIT_* number; the wire uses these names.
our @RLIMIT_NAMES = qw(cpu fsize data stack core rss nproc nofile memlock
                       as locks sigpending msgqueue nice rtprio rttime);
my %RLIMIT_NUMBER = map { $RLIMIT_NAMES[$_] => $_ } 0 .. $#RLIMIT_NAMES;

# Neither can be ignored or blocked; glibc keeps 32 and 33 for itself
# and refuses to change them.
my %UNCATCHABLE = (9 => 1, 19 => 1);
my %UNTOUCHABLE = (%UNCATCHABLE, 32 => 1, 33 => 1);

my @SIG_NAME;     # number => name, for %SIG
{
    my @names = split ' ', $Config::Config{sig_name};
    my @nums  = split ' ', $Config::Config{sig_num};
    for my $i (0 .. $#names) {
        $SIG_NAME[$nums[$i]] //= $names[$i] if $nums[$i] >= 1 && $nums[$i] <= 64;
    }
}

#---------------------------------------------------------------- decode

# A limit, already matched as "inf" or decimal without leading zeros:
# its value, or undef if it is not below 2**64-1.
sub _limit {
    my ($s) = @_;
    return RLIM_INF if $s eq 'inf';
    return undef if length $s == 20 && $s gt '18446744073709551614';
    return $s + 0;
}

# Exactly 16 lowercase hex digits; the signal numbers whose bits are set.
# (Decoded per call: the common all-clear mask costs one comparison.)
sub _mask {
    my ($s) = @_;
    return [] if $s eq '0000000000000000';
    return undef unless $s =~ /\A[0-9a-f]{16}\z/;
    my @sigs;
    for my $half (0, 1) {
        my $word = hex substr($s, 8 * (1 - $half), 8);
        my $bit = 0;
        while ($word) {
            push @sigs, 32 * $half + $bit + 1 if $word & 1;
            $word >>= 1;
            $bit++;
        }
    }
    return undef if grep { $UNCATCHABLE{$_} } @sigs;
    return \@sigs;
}

my $LIMIT_RE = qr/\A(0|[1-9][0-9]{0,19}|inf):(0|[1-9][0-9]{0,19}|inf)\z/;

# The block in the order our client sends it, as one match: decoding
# runs on every call, and one regex does in C what a loop over the
# entries would do op by op. Any other order takes the general path.
my $NUM = '(0|[1-9][0-9]{0,19}|inf)';
my $CANONICAL_RE = do {
    my $re = '\Aumask=(0[0-7]{3})\0nice=(0|-?[1-9][0-9]?)\0';
    $re .= "rlimit\\.$_=$NUM:$NUM\\0" for @RLIMIT_NAMES;
    $re .= 'sigign=([0-9a-f]{16})\0sigblock=([0-9a-f]{16})\0\z';
    qr/$re/;
};

sub _decode_canonical {
    my ($block) = @_;
    my @v = $block =~ $CANONICAL_RE or return;
    my ($umask, $nice, $ign, $blk) = (shift @v, shift @v, pop @v, pop @v);
    ($ign, $blk) = ($blk, $ign);
    return unless $nice >= -20 && $nice <= 19;
    my @rl;
    while (@v) {
        my ($soft, $hard) = (_limit(shift @v), _limit(shift @v));
        return unless defined $soft && defined $hard && $soft <= $hard;
        push @rl, [$soft, $hard];
    }
    my ($sigign, $sigblock) = (_mask($ign), _mask($blk));
    return unless $sigign && $sigblock;
    return { umask => oct $umask, nice => $nice + 0, rlimit => \@rl,
             sigign => $sigign, sigblock => $sigblock };
}

my %PARSE = (
    umask => sub { $_[0] =~ /\A0[0-7]{3}\z/ ? oct $_[0] : undef },
    nice  => sub {
        $_[0] =~ /\A(?:0|-?[1-9][0-9]?)\z/ && $_[0] >= -20 && $_[0] <= 19
            ? $_[0] + 0 : undef;
    },
    sigign   => \&_mask,
    sigblock => \&_mask,
);

# decode($block): $block is the L bytes after the length. Returns the
# state (a hash: umask, nice, rlimit => [[soft, hard], ...] indexed by
# RLIMIT number, sigign and sigblock => [signal numbers]) or
# (undef, one line saying what is wrong).
sub decode {
    my ($block) = @_;
    return (undef, 'caller-state block is empty') unless length $block;
    return (undef, 'caller-state block exceeds ' . MAX_BLOCK . ' bytes')
        if length $block > MAX_BLOCK;
    return (undef, 'caller-state block does not end with NUL')
        unless substr($block, -1) eq "\0";
    my $fast = _decode_canonical($block);
    return $fast if $fast;
    my (%st, %seen);
    for my $entry (split /\0/, substr($block, 0, -1), -1) {
        my $eq = index $entry, '=';
        return (undef, 'caller-state entry "' . _shown($entry)
                       . '" is not key=value') if $eq < 1;
        my $key = substr $entry, 0, $eq;
        my $value = substr $entry, $eq + 1;
        return (undef, "caller-state key '" . _shown($key) . "' repeated")
            if $seen{$key}++;
        my $res = substr($key, 0, 7) eq 'rlimit.' ? substr($key, 7) : undef;
        if (defined $res && exists $RLIMIT_NUMBER{$res}) {
            my ($soft, $hard) = $value =~ $LIMIT_RE ? (_limit($1), _limit($2)) : ();
            return (undef, "caller-state $key has a bad value '"
                           . _shown($value) . "' (SOFT:HARD, soft <= hard)")
                unless defined $soft && defined $hard && $soft <= $hard;
            $st{rlimit}[$RLIMIT_NUMBER{$res}] = [$soft, $hard];
            next;
        }
        my $parse = $PARSE{$key}
            or return (undef, "caller-state key '" . _shown($key) . "' unknown");
        my $v = $parse->($value);
        return (undef, "caller-state $key has a bad value '" . _shown($value) . "'")
            unless defined $v;
        $st{$key} = $v;
    }
    for my $key (qw(umask nice sigign sigblock), map { "rlimit.$_" } @RLIMIT_NAMES) {
        return (undef, "caller-state key '$key' missing") unless $seen{$key};
    }
    return \%st;
}

# encode($state): the block (without its length) for a state as decode()
# returns it: what our client sends, for tests and test clients.
sub encode {
    my ($st) = @_;
    my $limit = sub { $_[0] == RLIM_INF ? 'inf' : $_[0] };
    my $mask = sub {
        my ($lo, $hi) = (0, 0);
        for my $sig (@{$_[0]}) {
            $sig <= 32 ? ($lo |= 1 << ($sig - 1)) : ($hi |= 1 << ($sig - 33));
        }
        return sprintf '%08x%08x', $hi, $lo;
    };
    my @e = (sprintf('umask=%04o', $st->{umask}), "nice=$st->{nice}");
    push @e, map {
        "rlimit.$RLIMIT_NAMES[$_]=" . $limit->($st->{rlimit}[$_][0]) . ':'
            . $limit->($st->{rlimit}[$_][1])
    } 0 .. $#RLIMIT_NAMES;
    push @e, 'sigign=' . $mask->($st->{sigign}), 'sigblock=' . $mask->($st->{sigblock});
    return join '', map { "$_\0" } @e;
}

# Peer bytes in a log line: printable, and not too long.
sub _shown {
    my ($s) = @_;
    $s = substr($s, 0, 40) . '...' if length $s > 43;
    $s =~ s/([^\x20-\x7e])/sprintf '\\x%02x', ord $1/ge;
    return $s;
}

#---------------------------------------------------------------- state

# 'IGNORE', 'DEFAULT' or 'caught' for each signal we may change.
sub _dispositions {
    my %d;
    my $act = POSIX::SigAction->new;
    for my $sig (1 .. 64) {
        next if $UNTOUCHABLE{$sig};
        next unless POSIX::sigaction($sig, undef, $act);
        my $h = $act->{HANDLER} // 'DEFAULT';
        $d{$sig} = ref $h || ($h ne 'IGNORE' && $h ne 'DEFAULT') ? 'caught' : $h;
    }
    return \%d;
}

sub _blocked {
    my $set = POSIX::SigSet->new;
    POSIX::sigprocmask(POSIX::SIG_BLOCK(), undef, $set) or return [];
    return [ grep { $set->ismember($_) } 1 .. 64 ];
}

sub _snapshot {
    return {
        umask   => umask,
        nice    => getpriority(0, 0),
        rlimit  => [ map { get_rlimit($_) } 0 .. $#RLIMIT_NAMES ],
        signal  => _dispositions(),
        blocked => _blocked(),
    };
}

my $at_load;     # what the server had when this package was loaded
my $own;         # what the script set itself, kept in every call

sub note_load_state {
    $at_load = _snapshot();
    return;
}

# At prefork_initialisation_complete, before the module changes anything:
# whatever differs from the load-time state, the script set.
sub note_init_state {
    my $now = _snapshot();
    $at_load //= $now;
    my %keep;
    $keep{umask} = 1 if $now->{umask} != $at_load->{umask};
    $keep{nice}  = 1 if $now->{nice} != $at_load->{nice};
    for my $res (0 .. $#RLIMIT_NAMES) {
        my ($a, $b) = ($at_load->{rlimit}[$res], $now->{rlimit}[$res]);
        $keep{"rlimit$res"} = 1
            if $a && $b && ($a->[0] != $b->[0] || $a->[1] != $b->[1]);
    }
    my %sig_keep;
    for my $sig (keys %{$now->{signal}}) {
        my $d = $now->{signal}{$sig};
        # A handler cannot be inherited, and perl ignores SIGFPE itself
        # at start-up, as in every standalone run.
        next unless $d eq 'caught' || $sig == 8
            || $d ne ($at_load->{signal}{$sig} // $d);
        # %SIG's own value: undef for a default the script restored
        # (delete $SIG{HUP}), as its standalone runs have it.
        my $name = $SIG_NAME[$sig];
        $sig_keep{$sig} = !defined $name ? $d
            : defined $SIG{$name} || $d eq 'DEFAULT' ? $SIG{$name} : $d;
    }
    # Signals an executor may find in another state than the caller's
    # default: the server's ignored ones, and those the module itself
    # changes while serving (INT, PIPE, ALRM, CHLD).
    my @touched = grep { !exists $sig_keep{$_} }
        sort { $a <=> $b } keys %{{ map { $_ => 1 } 2, 13, 14, 17,
            grep { $now->{signal}{$_} ne 'DEFAULT' } keys %{$now->{signal}} }};
    $own = { %keep, signal => \%sig_keep, touched => \@touched, init => $now };

    # The usual caller is like the one that started the server: the
    # block its client sends is known here, so a call that sends exactly
    # it skips the decoding (perl, unlike a standalone caller's client,
    # ignores SIGFPE itself: not part of that block).
    my $usual = {
        umask => $at_load->{umask}, nice => $at_load->{nice},
        rlimit => $at_load->{rlimit},
        sigign => [ grep { $at_load->{signal}{$_} eq 'IGNORE' && $_ != 8 }
                    sort { $a <=> $b } keys %{$at_load->{signal}} ],
        sigblock => $at_load->{blocked},
    };
    $own->{usual_block} = encode($usual)
        unless grep { !defined } @{$usual->{rlimit}};
    $own->{usual} = $usual;
    return;
}

# decode() with the server's usual caller known (see note_init_state):
# that caller's block costs one comparison. Same results as decode().
sub decode_for_server {
    my ($block) = @_;
    return $own->{usual}
        if $own && defined $own->{usual_block} && $block eq $own->{usual_block};
    return decode($block);
}

#---------------------------------------------------------------- the server's own

# Limits the server changed for itself: res => what it had before.
my %server_had;

# In the server: its soft limit of open files goes up to the hard one.
# A low soft limit (ulimit -Sn) suits the script, not a server holding
# a pidfd, a control socket and a call socket for every call. Every
# executor puts the old value back first (restore_server_limits), so
# calls, the first included, run with their caller's limit as before.
sub raise_server_nofile {
    my $res = $RLIMIT_NUMBER{nofile};
    my $cur = get_rlimit($res) or return;
    return if $cur->[0] == $cur->[1] || !set_rlimit($res, $cur->[1], $cur->[1]);
    $server_had{$res} = $cur;
    return;
}

# In an executor, before its call's state is applied: what the process
# has is again what the initialisation left (what apply compares with).
sub restore_server_limits {
    set_rlimit($_, @{$server_had{$_}}) for keys %server_had;
    return;
}

#---------------------------------------------------------------- apply

# apply($state): makes this process run with the caller's state, except
# what the script's initialisation set. Returns undef, or one line
# saying what could not be applied (the call must then not run).
sub apply {
    my ($st) = @_;
    return apply_but_mask($st) // apply_mask($st);
}

# apply() in two steps, for an executor that has more to set up between
# them: everything but the blocked mask (what can fail for want of
# privilege), then the mask, which releases the signals held back so
# far (see Executor).
sub apply_but_mask {
    my ($st) = @_;
    # Without note_init_state() only perl's own start-up change is kept.
    $own //= { signal => { 8 => 'IGNORE' } };

    my $init = $own->{init} // {};
    umask $st->{umask}
        unless $own->{umask} || ($init->{umask} // -1) == $st->{umask};

    if (!$own->{nice} && ($init->{nice} // 99) != $st->{nice}) {
        my $was = getpriority(0, 0);
        setpriority(0, 0, $st->{nice})
            or return "cannot run at the caller's niceness $st->{nice}: this "
                    . "server runs at $was and may not raise its priority ($!); "
                    . "start a server of its own from a caller at niceness "
                    . "$st->{nice} (-f)";
    }

    for my $res (0 .. $#RLIMIT_NAMES) {
        next if $own->{"rlimit$res"};
        my ($soft, $hard) = @{$st->{rlimit}[$res]};
        my $had = $init->{rlimit} ? $init->{rlimit}[$res] : undef;
        next if $had && $had->[0] == $soft && $had->[1] == $hard;
        next if set_rlimit($res, $soft, $hard);
        my $err = "$!";
        my $cur = get_rlimit($res);
        my $show = sub { $_[0] == RLIM_INF ? 'inf' : $_[0] };
        return "cannot apply the caller's limit rlimit.$RLIMIT_NAMES[$res]="
             . $show->($soft) . ':' . $show->($hard) . ' ('
             . ($cur ? 'this server\'s hard limit is ' . $show->($cur->[1]) : $err)
             . "); start a server of its own from this caller (-f)";
    }

    # Caught signals become default, as across exec; each signal either
    # in the caller's ignored set or not default here is set.
    # perl sets an ignored SIGCHLD back to the default at start-up
    # ("Can't ignore signal CHLD, forcing to default", perldiag), so a
    # standalone run never has it ignored, whatever its caller had.
    my %ign = map { $_ => 1 } grep { $_ != 17 } @{$st->{sigign}};
    my $kept = $own->{signal};
    # The module changes these while serving: the script's own go back.
    for my $sig (grep { exists $kept->{$_} } 2, 13, 14, 17) {
        my $v = $kept->{$sig};
        $SIG{$SIG_NAME[$sig]} = $v
            if !defined $v || ref $v || $v eq 'IGNORE' || $v eq 'DEFAULT';
    }
    for my $sig (@{$own->{touched} // [1 .. 64]}, @{$st->{sigign}}) {
        next if $UNTOUCHABLE{$sig} || exists $kept->{$sig};
        my $name = $SIG_NAME[$sig] // next;
        # A default one is undef in %SIG, as in a standalone run.
        my $have = $SIG{$name};
        if ($ign{$sig}) {
            $SIG{$name} = 'IGNORE' unless defined $have && !ref $have && $have eq 'IGNORE';
        } elsif (defined $have) {
            $SIG{$name} = undef;
        }
    }
    return undef;
}

sub apply_mask {
    my ($st) = @_;
    # Always set: the server unblocks SIGCHLD in its children and signals
    # may be held back until here, so what the process has now is not
    # what initialisation noted (and asking costs a call as well).
    POSIX::sigprocmask(POSIX::SIG_SETMASK(), POSIX::SigSet->new(@{$st->{sigblock}}))
        or return "cannot block the caller's blocked signals: $!";
    return undef;
}

1;
