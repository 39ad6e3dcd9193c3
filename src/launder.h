/* Laundered mode (-L), for CGI and other hosts whose callers' arguments
 * and environments must not shape a server that answers everyone: the
 * script's initialisation runs with no caller arguments and this fixed
 * environment, while each call still gets its caller's arguments and
 * environment in full.
 *
 *   PATH=/usr/local/bin:/usr/bin:/bin
 *   HOME, USER, LOGNAME   from the password database (effective uid)
 *   each -E variable      the caller's value, if set (servers differ by
 *                         it anyway, so it cannot leak between callers)
 *   PREFORK_INTERP        the protocol's hand-over, set afterwards
 *
 * An -E variable overrides a fixed one of the same name. */
#ifndef PFI_LAUNDER_H
#define PFI_LAUNDER_H

#include "options.h"

#define PFI_LAUNDERED_PATH "/usr/local/bin:/usr/bin:/bin"

/* In the setup child, before exec: replaces `environ` with the
 * laundered environment.  Returns 0 or -ENOMEM. */
int pfi_launder_environment(const struct pfi_options *o);

#endif
