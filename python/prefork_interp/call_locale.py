"""The locale categories of a call, beyond what a fresh interpreter sets
(stdio.apply_locale()): those the script's initialisation set.

A standalone run has, at the point where initialisation_complete()
returns, whatever its initialisation set: a script that takes the
user's locale (locale.setlocale(locale.LC_ALL, ""), or one category)
has its own caller's, one that names a locale has that one.  The
server's categories are its first caller's.  So each category the
initialisation changed (told apart, as caller_state.Baseline does, by
comparing the locale when prefork_interp was imported with the locale
at initialisation_complete()) is, in every call:
  - set again from the call's environment, if it was what
    setlocale(category, "") gave under the first caller's environment
    (a locale the script named that happens to be exactly that counts
    as taken from the environment);
  - else the locale the initialisation set.
A category the call's environment names a locale the system lacks
stays what a fresh interpreter has (standalone, the script's
setlocale() would have raised locale.Error).
"""

import locale

# glibc's category numbers, by the names setlocale(LC_ALL) reports.
CATEGORIES = {"LC_CTYPE": 0, "LC_NUMERIC": 1, "LC_TIME": 2,
              "LC_COLLATE": 3, "LC_MONETARY": 4, "LC_MESSAGES": 5,
              "LC_PAPER": 7, "LC_NAME": 8, "LC_ADDRESS": 9,
              "LC_TELEPHONE": 10, "LC_MEASUREMENT": 11,
              "LC_IDENTIFICATION": 12}


def categories():
    """{category name: locale} of this process now."""
    try:
        text = locale.setlocale(locale.LC_ALL)
    except locale.Error:
        return {}
    if ";" not in text:
        return dict.fromkeys(CATEGORIES, text)
    found = {}
    for part in text.split(";"):
        name, eq, value = part.partition("=")
        if eq and name in CATEGORIES:
            found[name] = value
    return found


def from_environment():
    """{category name: locale} that setlocale(category, "") gives under
    this process's environment; the process's locale is left as it
    was."""
    now = categories()
    found = {}
    for name, number in CATEGORIES.items():
        try:
            found[name] = locale.setlocale(number, "")
        except locale.Error:
            pass
    for name, value in now.items():
        try:
            locale.setlocale(CATEGORIES[name], value)
        except locale.Error:
            pass
    return found


class Plan:
    """What each call does with each category the initialisation set."""

    def __init__(self, at_import, at_init, environment):
        changed = {n: v for n, v in at_init.items()
                   if at_import is not None and v != at_import.get(n)}
        self.from_environment = [n for n, v in changed.items()
                                 if environment.get(n) == v]
        self.own = {n: v for n, v in changed.items()
                    if n not in self.from_environment}


def apply(plan):
    """In a call, once its environment, its fresh interpreter's locale
    (stdio.apply_locale()) and its streams are in place."""
    for name in plan.from_environment:
        try:
            locale.setlocale(CATEGORIES[name], "")
        except locale.Error:
            pass
    for name, value in plan.own.items():
        try:
            locale.setlocale(CATEGORIES[name], value)
        except locale.Error:
            pass
