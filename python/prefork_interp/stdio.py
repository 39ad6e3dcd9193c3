"""sys.stdin, sys.stdout and sys.stderr for a call, made as a fresh
interpreter would make them for the caller's fds and environment.

A fresh CPython (3.11) chooses, for its standard streams:
  encoding  PYTHONIOENCODING's encoding part, else UTF-8 in UTF-8 mode,
            else the LC_CTYPE locale's encoding;
  errors    stdin/stdout: PYTHONIOENCODING's errors part (strict if
            it names only an encoding), else surrogateescape in UTF-8 mode or a C, POSIX or C.UTF-8-like
            locale, else strict; stderr: always backslashreplace;
  buffers   stdout and stderr unbuffered (write_through) with -u or
            PYTHONUNBUFFERED; else line-buffered when the fd is a
            terminal, and stderr always line-buffered; stdin buffered.
UTF-8 mode is -X utf8, else PYTHONUTF8, else on when the locale is C or
POSIX; a C or POSIX LC_CTYPE is coerced to C.UTF-8 (also in the
environment, and then every locale category is set from the
environment) unless LC_ALL is set or PYTHONCOERCECLOCALE=0 (PEP 538).
Without coercion only LC_CTYPE is set; the other categories stay "C".

settings() is pure and unit-tested against real fresh interpreters
(python/tests/test_units.py); apply_locale() acts; streams.py sets the
streams up with these settings.
"""

import codecs
import io
import locale

COERCION_TARGETS = ("C.UTF-8", "C.utf8", "UTF-8")
LEGACY_LOCALES = ("C", "POSIX")


class Settings:
    def __init__(self, encoding, errors, unbuffered):
        self.encoding = encoding
        self.errors = errors            # stdin and stdout
        self.unbuffered = unbuffered

    def __repr__(self):
        return (f"Settings({self.encoding!r}, {self.errors!r}, "
                f"{self.unbuffered!r})")


def utf8_mode(env, ignore_env, xoptions, legacy_locale):
    """Whether a fresh interpreter would run in UTF-8 mode (PEP 540)."""
    if "utf8" in xoptions:
        return xoptions["utf8"] in (True, "1", "")
    if not ignore_env and env.get("PYTHONUTF8"):
        return env["PYTHONUTF8"] == "1"
    return legacy_locale


def wants_coercion(env, ignore_env, ctype_name):
    """Whether PEP 538 coerces this LC_CTYPE locale to C.UTF-8."""
    if ctype_name not in LEGACY_LOCALES or env.get("LC_ALL"):
        return False
    return ignore_env or env.get("PYTHONCOERCECLOCALE") != "0"


def settings(env, ignore_env, xoptions, u_flag, ctype_name, utf8,
             locale_encoding):
    """The standard streams' settings.  ctype_name: the LC_CTYPE locale
    after setlocale(LC_CTYPE, "") and any coercion; utf8: from
    utf8_mode(); locale_encoding: that locale's encoding."""
    encoding = errors = None
    if not ignore_env and env.get("PYTHONIOENCODING"):
        enc, _colon, err = env["PYTHONIOENCODING"].partition(":")
        encoding = enc or None
        # PYTHONIOENCODING=latin-1 means latin-1:strict.
        errors = err or ("strict" if enc else None)
    if encoding is None:
        encoding = "utf-8" if utf8 else locale_encoding
    encoding = codecs.lookup(encoding).name
    if errors is None:
        surrogates = (utf8 or ctype_name in LEGACY_LOCALES
                      or ctype_name in COERCION_TARGETS)
        errors = "surrogateescape" if surrogates else "strict"
    unbuffered = u_flag or bool(not ignore_env and env.get("PYTHONUNBUFFERED"))
    return Settings(encoding, errors, unbuffered)


# Python's one-letter options that take an argument (attached, as in
# -Wignore, or the next word); every other letter is a flag, and flags
# combine (-Bu is -B -u).  Long options that take one: the next word.
_ARG_LETTERS = "cmWX"
_ARG_LONG = ("--check-hash-based-pycs",)


def u_flag(options):
    """Whether the interpreter options (the words between the
    interpreter and the script, as in sys.orig_argv) include -u, alone
    or combined with other flags (-Bu, -uB, -Eu); -Xu, -W u or the
    argument of a long option is not -u (pure)."""
    words = iter(options)
    for word in words:
        if word == "--" or not word.startswith("-") or word == "-":
            break
        if word.startswith("--"):
            if "=" not in word and word in _ARG_LONG:
                next(words, None)
            continue
        for i, letter in enumerate(word[1:], 1):
            if letter in _ARG_LETTERS:
                if i == len(word) - 1:
                    next(words, None)   # its argument is the next word
                break
            if letter == "u":
                return True
    return False


def apply_locale(environ, ignore_env, xoptions):
    """Sets the locale from the (new) environment as Python's start-up
    does: every category "C", as in a new process; LC_CTYPE from the
    environment; a legacy one coerced (PEP 538), which also sets every
    category from the environment (CPython's
    _coerce_default_locale_settings: setlocale(LC_ALL, "") once
    LC_CTYPE is in the environment).  Returns (ctype_name, utf8 mode)."""
    locale.setlocale(locale.LC_ALL, "C")
    try:
        name = locale.setlocale(locale.LC_CTYPE, "")
    except locale.Error:
        name = locale.setlocale(locale.LC_CTYPE, "C")
    legacy = name in LEGACY_LOCALES
    utf8 = utf8_mode(environ, ignore_env, xoptions, legacy)
    if wants_coercion(environ, ignore_env, name):
        for target in COERCION_TARGETS:
            try:
                name = locale.setlocale(locale.LC_CTYPE, target)
            except locale.Error:
                continue
            environ["LC_CTYPE"] = target
            try:
                locale.setlocale(locale.LC_ALL, "")
            except locale.Error:
                pass
            break
    return name, utf8


def new_stream(fd, write, name, encoding, errors, unbuffered):
    """A standard stream for fd as create_stdio() makes it (streams.py
    uses it where there is no interpreter's stream to set up again)."""
    buffering = 0 if unbuffered and write else -1
    buf = io.open(fd, "wb" if write else "rb", buffering, closefd=False)
    raw = buf if buffering == 0 else buf.raw
    raw.name = name
    line_buffering = not unbuffered and (raw.isatty() or fd == 2)
    stream = io.TextIOWrapper(buf, encoding, errors, "\n",
                              line_buffering=line_buffering,
                              write_through=unbuffered)
    stream.mode = "w" if write else "r"
    return stream
