package Proc::Prefork::Interp::Title;

# The server's process title: the script and how many calls it has
# taken, never a caller's arguments. `prefork-interp --list` shows the
# title and reads the count from its "N calls" (the client cannot know
# it otherwise).

use strict;
use warnings;

sub server {
    my ($script, $calls) = @_;
    my $title = "$script [prefork server]";
    $title .= $calls == 1 ? ' 1 call' : " $calls calls" if $calls;
    return $title;
}

1;
