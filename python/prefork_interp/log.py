"""The server's messages: to syslog, or to the script's own logger.

The server's standard streams are /dev/null, so this is the only place
where its problems show.  A failing logger must never stop a server or
a call, so every failure here is swallowed.
"""

import syslog

PRIORITIES = {"err": syslog.LOG_ERR, "warning": syslog.LOG_WARNING,
              "info": syslog.LOG_INFO}


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
    def __init__(self, logger=None, facility=None, prefix=""):
        self._logger = logger
        self._facility = facility
        self._prefix = prefix
        self._open = False

    def open(self):
        """Connects to syslog now, so that the socket exists before the
        server's first fork and executors can close it."""
        if self._logger is None and self._facility is not None:
            try:
                syslog.openlog("prefork-interp",
                               syslog.LOG_PID | syslog.LOG_NDELAY,
                               self._facility)
                self._open = True
            except Exception:
                pass

    def close(self):
        """In an executor: the per-call code gets no syslog connection of
        the server (if it uses syslog, it opens its own)."""
        if self._open:
            try:
                syslog.closelog()
            except Exception:
                pass
            self._open = False

    def __call__(self, priority, message):
        message = f"{self._prefix}{message}"
        if self._logger is not None:
            try:
                self._logger(priority, message)
            except Exception:
                pass
            return
        if self._facility is None:
            return
        try:
            if not self._open:
                self.open()
            syslog.syslog(PRIORITIES[priority], message)
        except Exception:
            pass
