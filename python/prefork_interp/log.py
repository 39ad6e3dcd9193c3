"""The server's messages: to the script's own logger, else to syslog,
else (no syslog daemon listening) to the file `messages` in the run
directory (logfile.py).

The server's standard streams are /dev/null, so this is the only place
where its problems show.  A failing logger must never stop a server or
a call, so every failure here is swallowed.
"""

import syslog

from . import logfile

PRIORITIES = {"err": syslog.LOG_ERR, "warning": syslog.LOG_WARNING,
              "notice": syslog.LOG_NOTICE, "info": syslog.LOG_INFO}


def facility_value(facility):
    """syslog facility from a name ('LOG_USER', 'user') or a number;
    None for '' or None (syslog off).  Raises ValueError otherwise."""
    if facility is None or facility == "":
        return None
    if isinstance(facility, int) and not isinstance(facility, bool):
        return facility
    if isinstance(facility, str):
        name = facility.upper()
        if not name.startswith("LOG_"):
            name = "LOG_" + name
        value = getattr(syslog, name, None)
        if isinstance(value, int) and (value & 0x7 == 0):
            return value
    raise ValueError(f"unknown syslog facility {facility!r}")


class Log:
    """Every message starts with the script's path (prefix).  The
    script's logger wins; else syslog when a daemon listens; else the
    file `messages` in the run directory (logfile.py); a facility of
    None turns logging off."""

    def __init__(self, logger=None, facility=None, prefix=""):
        self._logger = logger
        self._facility = facility
        self._prefix = prefix
        self._syslog = logger is None and facility is not None
        self._open = False
        self._file = None

    def open(self, listen=None):
        """Called once, in the setup, while the client waits for it (and
        before the server's first fork, so that executors can close
        what it opens).  listen: the server's listening socket, whose
        directory is the run directory.  Connects to syslog now or, with
        no daemon listening, opens the file: every message would be
        lost otherwise."""
        if not self._syslog:
            return
        if listen is not None and not logfile.syslog_reachable():
            found = logfile.dir_of_socket(listen)
            if found is not None:
                self._file = logfile.LogFile.open(*found)
            if self._file is not None:
                self._syslog = False
                return
        self._open_syslog()

    def _open_syslog(self):
        try:
            syslog.openlog("prefork-interp",
                           syslog.LOG_PID | syslog.LOG_NDELAY,
                           self._facility)
            self._open = True
        except Exception:
            pass

    def forked(self):
        """In a child just forked from the server: the server's syslog
        connection is not the child's (it reconnects if it logs); the
        file stays open until the call's code starts (close), so that
        what goes wrong before then (a protocol error, a refused call)
        is still logged."""
        if self._open:
            try:
                syslog.closelog()
            except Exception:
                pass
            self._open = False

    def fds(self):
        """The fds the log holds in an executor: the messages file's.
        (The syslog connection, which the C library holds at a number
        of its own, is closed in every child (forked) and opened in an
        executor only to log a call's failure, which ends it.)"""
        return self._file.fds() if self._file is not None else ()

    def close(self):
        """In an executor, last before the call's code: nothing of the
        server's log stays (if the call uses syslog, it opens its own)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self.forked()

    def __call__(self, priority, message):
        message = f"{self._prefix}{message}"
        if self._logger is not None:
            try:
                self._logger(priority, message)
            except Exception:
                pass
            return
        if self._file is not None:
            self._file.write(priority, message)
            return
        if not self._syslog:
            return
        try:
            if not self._open:
                self._open_syslog()
            syslog.syslog(PRIORITIES[priority], message)
        except Exception:
            pass
