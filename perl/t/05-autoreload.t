use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PFITest;

# A changed file makes the server quit before it serves the next call:
# the next client gets no greeting (EOF) or a refused connection.

my %module = ('PFIAutoMod.pm' => "package PFIAutoMod;\n1;\n");

sub start {
    my (%a) = @_;
    my $t = PFITest->new(files => \%module, %a,
                         env => { PFITEST_USE => 'PFIAutoMod', %{$a{env} // {}} });
    is $t->setup_status, 0, 'setup ok';
    is $t->call(args => ['noop'])->{status}, 0, 'first call ok';
    return $t;
}

sub future { my ($path) = @_; my $when = time + 100; utime $when, $when, $path or die "$path: $!" }

sub served_ok {
    my ($t, $what) = @_;
    my $r = $t->call(args => ['exit', 3]);
    is $r->{status}, 3 << 8, "$what: still served";
}

sub reloads {
    my ($t, $what) = @_;
    my $r = $t->call(args => ['exit', 3]);
    ok !defined $r->{xdata} || $r->{refused}, "$what: next call gets no greeting";
    ok !defined $r->{status}, "$what: and no status";
    ok $t->wait_server_exit(10), "$what: server quit";
    like $t->log_text // '', qr/^info .*changed since startup/m, "$what: logged at info";
    ok $t->finish, "$what: nothing left behind";
}

for my $mode ('', 'no_inotify') {
    my %env = $mode ? (PFITEST_NO_INOTIFY => 1) : ();
    my $tag = $mode ? ' (stat fallback)' : '';
    for my $rep (1 .. 3) {
        my $t = start(env => \%env);
        served_ok($t, "untouched$tag");
        future($t->dir . '/PFIAutoMod.pm');
        reloads($t, "module touched$tag, round $rep");
    }
    {
        my $t = start(env => \%env);
        my $new = $t->dir . '/PFIAutoMod.pm.new';
        PFITest::_write_file($new, "package PFIAutoMod;\n2;\n");
        future($new);
        served_ok($t, "sibling file written$tag");
        rename $new, $t->dir . '/PFIAutoMod.pm' or die;
        reloads($t, "module replaced by rename$tag");
    }
    {
        my $t = start(env => \%env);
        future($t->script);
        reloads($t, "script itself touched$tag");
    }
}

# Unrelated changes in the same directory do not trigger a reload.
{
    my $t = start();
    for my $i (1 .. 5) {
        my $other = $t->dir . "/unrelated$i";
        PFITest::_write_file($other, "x\n");
        future($other);
        served_ok($t, "unrelated file $i");
    }
    ok $t->finish, 'nothing left behind';
}

# prefork_autoreload_also_check on a file that does not exist yet: it
# may appear with an old time, then a later change counts.
{
    my $t = start(env => { PFITEST_ALSO => '__DIR__/later.conf' });
    my $conf = $t->dir . '/later.conf';
    # Made elsewhere and renamed in, so it never exists with a new time.
    mkdir $t->dir . '/staging' or die;
    my $staged = $t->dir . '/staging/later.conf';
    PFITest::_write_file($staged, "old\n");
    utime 1000, 1000, $staged;
    rename $staged, $conf or die;
    served_ok($t, 'also_check file appeared with an old time');
    served_ok($t, 'also_check file still old');
    open(my $fh, '>>', $conf) or die;
    print $fh "new\n";
    close $fh;
    future($conf);
    reloads($t, 'also_check file changed in place');
}

# autoreload_extra, and autoreload_inc => 0.
{
    my $t = start(files => { %module, 'extra.conf' => "x\n" },
                  opts => 'autoreload_extra=__DIR__/extra.conf');
    future($t->dir . '/extra.conf');
    reloads($t, 'autoreload_extra file touched');
}
{
    my $t = start(opts => 'autoreload_inc=0');
    future($t->dir . '/PFIAutoMod.pm');
    served_ok($t, 'autoreload_inc=0: module touched');
    future($t->script);
    reloads($t, 'autoreload_inc=0: script touched');
}

done_testing;
