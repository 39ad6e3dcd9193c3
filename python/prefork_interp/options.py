"""The options of initialisation_complete(), their defaults and checks.

A bad option is the script author's mistake: it raises TypeError or
ValueError in the setup, whose traceback reaches the caller's stderr.
"""

import numbers

from . import log

DEFAULTS = {
    "max_servers": 4,
    "max_pending": 16,
    "pending_grace": 1.0,
    "prefork_spares": 1,
    "prefault": 64,
    "idle_timeout": 600,             # ten minutes, as the Perl module
    "request_timeout": 30,
    "max_errors": 100,
    "log_facility": "LOG_USER",
    "logger": None,
    "autoreload_modules": True,
    "autoreload_extra": (),
    "allow_threads": False,
}

NUMBERS = ("max_servers", "max_pending", "pending_grace", "prefork_spares",
           "prefault",
           "idle_timeout", "request_timeout", "max_errors")


class Options:
    def __init__(self, values):
        self.__dict__.update(values)


def check(given):
    """Returns an Options with every option, given ones checked."""
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise TypeError(f"prefork_interp: unknown option {unknown[0]!r} "
                        f"(known: {', '.join(sorted(DEFAULTS))})")
    values = dict(DEFAULTS, **given)
    for name in NUMBERS:
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"prefork_interp: option {name!r} must be a "
                            f"number, not {value!r}")
    if values["prefork_spares"] < 0:
        raise ValueError("prefork_interp: option 'prefork_spares' must not "
                         "be negative")
    if values["logger"] is not None and not callable(values["logger"]):
        raise TypeError("prefork_interp: option 'logger' must be callable")
    extra = values["autoreload_extra"]
    if isinstance(extra, (str, bytes)) or not all(
            isinstance(p, (str, bytes)) for p in extra):
        raise TypeError("prefork_interp: option 'autoreload_extra' must be "
                        "a list of paths")
    values["autoreload_extra"] = list(extra)
    values["log_facility"] = log.facility_value(values["log_facility"])
    if values["max_servers"] == 0:
        values["max_servers"] = 1
    values["max_pending"] = max(1, values["max_pending"])
    return Options(values)
