/* Command line of the client, in the three usage forms of docs/design.md
 * section 4:
 *
 *   prefork-interp [OPTION ...] INTERP SCRIPT [ARGS...]
 *   prefork-interp OPTION,...,INTERP[,INTERP-ARG...] SCRIPT [ARGS...]
 *   prefork-interp 'OPTION ... INTERP [INTERP-ARG...]' SCRIPT [ARGS...]
 *
 * The second and third forms are what a `#!` line produces (the kernel
 * passes everything after the interpreter path as one argument). */
#ifndef PFI_OPTIONS_H
#define PFI_OPTIONS_H

#include <stddef.h>

#include "problem.h"

enum pfi_mode {
	PFI_MODE_NORMAL,   /* use the server, starting one if needed */
	PFI_MODE_FRESH,    /* -f: replace any server, then run */
	PFI_MODE_KILL,     /* --kill: stop the script's servers, run nothing */
	PFI_MODE_KILL_ALL, /* --kill-all: stop all of this user's servers */
	PFI_MODE_LIST,     /* --list: show this user's servers */
};

/* What to do when the script cannot be served (no safe run directory,
 * a working directory or script directory that cannot be identified):
 * run the interpreter directly, saying so on stderr (warn, the
 * default), silently (quiet), or refuse (exit 127). */
enum pfi_fallback {
	PFI_FALLBACK_UNSET,
	PFI_FALLBACK_WARN,
	PFI_FALLBACK_QUIET,
	PFI_FALLBACK_REFUSE,
};

/* Environment variable giving the fallback when the option does not. */
#define PFI_FALLBACK_ENV "PREFORK_INTERP_FALLBACK"

/* Parses "warn", "quiet" or "refuse"; 0, or -EINVAL with p filled
 * (`from` names where the value came from). */
int pfi_fallback_parse(const char *value, const char *from,
                       enum pfi_fallback *out, struct problem *p);

/* -E and -G, in the order given: both feed the ident. */
struct pfi_ident_item {
	char kind;             /* 'E' (environment variable) or 'G' */
	const char *value;
};

struct pfi_options {
	int unlaundered;                 /* -U */
	int laundered;                   /* -L: see launder.h */
	enum pfi_mode mode;
	int want_help, want_version;
	const char *explicit_ident;      /* -g */
	const char *run_dir;             /* --run-dir */
	enum pfi_fallback fallback;      /* --fallback */
	struct pfi_ident_item *items;
	size_t n_items;
	const char *interp;
	const char **interp_args;        /* NULL-terminated */
	size_t n_interp_args;
	const char *script;
	char *const *script_args;        /* NULL-terminated, into argv */

	char *split_copy;                /* owned copy of a combined argument */
	const char **words;              /* owned word list being parsed */
};

#define PFI_IDENT_MAX 64

/* Parses argv (argc >= 1).  On success returns 0; if want_help or
 * want_version is set, the other fields may be incomplete.  With
 * --list or --kill-all there is no interpreter or script; with --kill
 * the interpreter may be left out (`--kill SCRIPT`), and -U is needed
 * only to run a script.  Always call pfi_options_free() afterwards. */
int pfi_options_parse(int argc, char *const *argv, struct pfi_options *o,
                      struct problem *p);
void pfi_options_free(struct pfi_options *o);

/* The interpreter's argv for running the script: interp, its
 * arguments, script, the script's arguments, NULL.  Pointers into o;
 * free() the array.  NULL if out of memory. */
const char **pfi_script_argv(const struct pfi_options *o);

/* The usage text, for --help. */
extern const char pfi_usage[];

#endif
