/* Client option parsing: see options.h. */
#include "options.h"
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char pfi_usage[] =
"usage: " PFI_PROGRAM " [OPTION ...] INTERP SCRIPT [ARGS...]\n"
"       " PFI_PROGRAM " OPTION,...,INTERP[,INTERP-ARG...] SCRIPT [ARGS...]\n"
"       " PFI_PROGRAM " 'OPTION ... INTERP [INTERP-ARG...]' SCRIPT [ARGS...]\n"
"  in a script:  #!" PFI_SHEBANG_PATH " -U,perl[,-w]\n"
"  CGI and other hosts that call with untrusted environments:\n"
"                 #!" PFI_SHEBANG_PATH " -L,perl[,-w]\n"
"\n"
"Runs SCRIPT through a persistent server that has already done the\n"
"script's initialisation (see Proc::Prefork::Interp).\n"
"\n"
"  -U             unlaundered: setup and each call see all arguments and\n"
"                 the whole environment\n"
"  -L             laundered: the script's initialisation runs with no\n"
"                 arguments and a fixed environment (PATH, HOME, USER,\n"
"                 LOGNAME, plus the -E variables); each call sees all\n"
"                 (one of -U and -L is required)\n"
"  -f             replace any running server with a fresh one, then run\n"
"  --kill         stop this script's servers (started from any directory,\n"
"                 with any -E values); run nothing.  The interpreter may be\n"
"                 left out: " PFI_PROGRAM " --kill SCRIPT\n"
"  --kill-all     stop all of your servers in the run directory\n"
"  --list         list your servers: pid, start, idle time, calls, memory,\n"
"                 title, directory\n"
"  -E VAR         servers differ by the value (or absence) of VAR\n"
"  -G STRING      servers differ by STRING\n"
"  -g IDENT       use IDENT ([A-Za-z0-9_-], at most 64) as the server name\n"
"  --run-dir DIR  keep sockets in DIR/prefork-interp-UID, a directory of\n"
"                 our own (DIR checked like the default); also from\n"
"                 $PREFORK_INTERP_RUN_DIR.  Without it, the first safe one\n"
"                 of /run/user/UID/prefork-interp,\n"
"                 HOME/.prefork-interp/HOSTNAME, /run/prefork-interp/UID\n"
"  --fallback=warn|quiet|refuse\n"
"                 when the script cannot be served (no safe run directory,\n"
"                 a working directory that cannot be identified, a caller\n"
"                 under a seccomp filter, a caller starting its server\n"
"                 stopped meanwhile): run the interpreter directly with\n"
"                 one line on stderr (warn, the default), silently\n"
"                 (quiet), or fail with status 127 (refuse); also from\n"
"                 $PREFORK_INTERP_FALLBACK, the option winning\n"
"  -h, --help     show this text\n"
"  --version      show the version, build settings and the module version\n"
"                 this client expects\n"
"\n"
"In the first form the first argument must not contain ',' or ' ';\n"
"interpreter arguments can only be given in the combined forms.\n"
"Manual: man " PFI_PROGRAM "; the Perl side: man Proc::Prefork::Interp.\n";

static int split_words(const char *arg, char sep, struct pfi_options *o,
                       struct problem *p)
{
	size_t n = 1;
	for (const char *c = arg; *c; c++)
		n += *c == sep;
	o->split_copy = strdup(arg);
	o->words = calloc(n + 1, sizeof *o->words);
	if (!o->split_copy || !o->words)
		return problem_errno(p, ENOMEM, "parsing options");

	size_t used = 0;
	char *save = NULL;
	char seps[2] = { sep, '\0' };
	for (char *w = strtok_r(o->split_copy, seps, &save); w;
	     w = strtok_r(NULL, seps, &save))
		o->words[used++] = w;
	o->words[used] = NULL;
	if (sep == ',' && used != n)
		return problem_fail(p, EINVAL,
			"empty item in combined option argument '%s'", arg);
	return 0;
}

static int ident_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > PFI_IDENT_MAX)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz"
			 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

static int add_item(struct pfi_options *o, char kind, const char *value,
                    struct problem *p)
{
	/* A name with '=' cannot be looked up; one starting with '-' is
	 * the next option, swallowed because the name was left out. */
	if (kind == 'E' && (!*value || strchr(value, '=') || *value == '-'))
		return problem_fail(p, EINVAL,
			"-E needs an environment variable name, not '%s'", value);
	struct pfi_ident_item *grown =
		realloc(o->items, (o->n_items + 1) * sizeof *grown);
	if (!grown)
		return problem_errno(p, ENOMEM, "parsing options");
	o->items = grown;
	o->items[o->n_items++] = (struct pfi_ident_item){ kind, value };
	return 0;
}

int pfi_fallback_parse(const char *value, const char *from,
                       enum pfi_fallback *out, struct problem *p)
{
	if (!strcmp(value, "warn"))
		*out = PFI_FALLBACK_WARN;
	else if (!strcmp(value, "quiet"))
		*out = PFI_FALLBACK_QUIET;
	else if (!strcmp(value, "refuse"))
		*out = PFI_FALLBACK_REFUSE;
	else
		return problem_fail(p, EINVAL, "%s must be warn, quiet or "
				    "refuse, not '%s'", from, value);
	return 0;
}

/* The option that selects a mode, for messages. */
static const char *mode_option(enum pfi_mode m)
{
	switch (m) {
	case PFI_MODE_FRESH:
		return "-f";
	case PFI_MODE_KILL:
		return "--kill";
	case PFI_MODE_KILL_ALL:
		return "--kill-all";
	case PFI_MODE_LIST:
		return "--list";
	case PFI_MODE_NORMAL:
		break;
	}
	return "(none)";
}

static int set_mode(struct pfi_options *o, enum pfi_mode m, struct problem *p)
{
	if (o->mode != PFI_MODE_NORMAL && o->mode != m) {
		/* Named in one order whatever the order given. */
		enum pfi_mode a = o->mode < m ? o->mode : m;
		enum pfi_mode b = o->mode < m ? m : o->mode;
		return problem_fail(p, EINVAL, "%s and %s cannot be combined",
				    mode_option(a), mode_option(b));
	}
	o->mode = m;
	return 0;
}

/* Takes the value of an option: the rest of the word, else the next word. */
static int take_value(const char *const **w, const char *rest,
                      const char *name, const char **out, struct problem *p)
{
	if (*rest) {
		*out = rest;
		return 0;
	}
	if (!(*w)[1])
		return problem_fail(p, EINVAL, "option %s needs a value", name);
	*out = *++*w;
	return 0;
}

static int long_option(struct pfi_options *o, const char *const **w,
                       struct problem *p)
{
	const char *word = **w;
	if (!strcmp(word, "--help"))
		o->want_help = 1;
	else if (!strcmp(word, "--version"))
		o->want_version = 1;
	else if (!strcmp(word, "--kill"))
		return set_mode(o, PFI_MODE_KILL, p);
	else if (!strcmp(word, "--kill-all"))
		return set_mode(o, PFI_MODE_KILL_ALL, p);
	else if (!strcmp(word, "--list"))
		return set_mode(o, PFI_MODE_LIST, p);
	else if (!strncmp(word, "--fallback=", 11))
		return pfi_fallback_parse(word + 11, "--fallback", &o->fallback,
					  p);
	else if (!strcmp(word, "--fallback")) {
		const char *value = NULL;
		int r = take_value(w, "", "--fallback", &value, p);
		return r < 0 ? r : pfi_fallback_parse(value, "--fallback",
						      &o->fallback, p);
	}
	else if (!strncmp(word, "--run-dir=", 10))
		o->run_dir = word + 10;
	else if (!strcmp(word, "--run-dir"))
		return take_value(w, "", "--run-dir", &o->run_dir, p);
	else
		return problem_fail(p, EINVAL, "unknown option '%s'", word);
	return 0;
}

/* One word of short options: flags may be bundled (-Uf); an option
 * taking a value ends the bundle (-EVAR or -E VAR). */
static int short_options(struct pfi_options *o, const char *const **w,
                         struct problem *p)
{
	const char *word = **w;
	for (const char *c = word + 1; *c; c++) {
		const char *value = NULL;
		int r;
		char name[3] = { '-', *c, '\0' };
		switch (*c) {
		case 'U':
			o->unlaundered = 1;
			break;
		case 'L':
			o->laundered = 1;
			break;
		case 'f':
			if ((r = set_mode(o, PFI_MODE_FRESH, p)) < 0)
				return r;
			break;
		case 'E':
		case 'G':
			if ((r = take_value(w, c + 1, name, &value, p)) < 0)
				return r;
			return add_item(o, *c, value, p);
		case 'g':
			if ((r = take_value(w, c + 1, name, &value, p)) < 0)
				return r;
			if (!ident_ok(value))
				return problem_fail(p, EINVAL,
					"-g needs 1 to %d characters from "
					"[A-Za-z0-9_-], not '%s'",
					PFI_IDENT_MAX, value);
			o->explicit_ident = value;
			return 0;
		case 'h':
			o->want_help = 1;
			break;
		case ',':
			/* -U,perl after another word: the combined form is
			 * split only as the first argument, as a #! line
			 * gives it. */
			return problem_fail(p, EINVAL, "'%s': options joined "
				"with ',' are split only in the first argument "
				"(here give them as separate words)", word);
		default:
			return problem_fail(p, EINVAL, "unknown option '-%c'%s%s",
				*c, c == word + 1 ? "" : " in ",
				c == word + 1 ? "" : word);
		}
	}
	return 0;
}

/* Walks the words up to and including the interpreter. */
static int parse_words(struct pfi_options *o, const char *const **w,
                       struct problem *p)
{
	int r;
	for (; **w; (*w)++) {
		const char *word = **w;
		if (!strcmp(word, "--")) {
			(*w)++;
			break;
		}
		if (word[0] != '-' || word[1] == '\0')
			break;
		r = word[1] == '-' ? long_option(o, w, p)
				   : short_options(o, w, p);
		if (r < 0)
			return r;
	}
	if (o->want_help || o->want_version)
		return 0;
	if (!**w) {
		if (o->mode == PFI_MODE_LIST || o->mode == PFI_MODE_KILL_ALL ||
		    (o->mode == PFI_MODE_KILL && o->explicit_ident))
			return 0;
		if (o->mode == PFI_MODE_KILL)
			return problem_fail(p, EINVAL,
				"--kill needs a script (or -g IDENT)");
		return problem_fail(p, EINVAL,
			"no interpreter given (try --help)");
	}
	o->interp = *(*w)++;
	return 0;
}

static int finish(struct pfi_options *o, struct problem *p)
{
	if (o->want_help || o->want_version)
		return 0;
	if (o->mode == PFI_MODE_LIST || o->mode == PFI_MODE_KILL_ALL) {
		if (o->interp || o->script)
			return problem_fail(p, EINVAL, "%s takes no interpreter "
				"or script", mode_option(o->mode));
		/* Not dropped: --kill-all -g NAME would stop every server. */
		if (o->explicit_ident)
			return problem_fail(p, EINVAL, "-g names one server: "
				"not with %s (--kill -g NAME stops that one)",
				mode_option(o->mode));
		return 0;
	}
	if (o->mode == PFI_MODE_KILL) {
		/* --kill SCRIPT: the word taken for the interpreter is the
		 * script; the interpreter plays no part in which to stop. */
		if (!o->script) {
			o->script = o->interp;
			o->interp = NULL;
		}
		if (o->script && !*o->script)
			return problem_fail(p, EINVAL, "empty script name");
		/* Runs nothing, so takes nothing for the script: and
		 * "--kill a b c" would stop b's servers only. */
		if (o->script_args[0])
			return problem_fail(p, EINVAL, "--kill takes no "
				"arguments after the script ('%s')",
				o->script_args[0]);
		return 0;
	}
	if (!*o->interp)
		return problem_fail(p, EINVAL, "empty interpreter name");
	if (o->unlaundered && o->laundered)
		return problem_fail(p, EINVAL,
			"-U and -L cannot be combined: choose -U (the "
			"initialisation sees the first caller's arguments and "
			"environment) or -L (it sees neither)");
	if (!o->unlaundered && !o->laundered)
		return problem_fail(p, EINVAL,
			"need -U (unlaundered: setup and each call see all "
			"arguments and environment) or -L (laundered: the "
			"setup sees no arguments and a fixed environment; "
			"for CGI)");
	/* In the plain form, '#!prefork-interp -U' takes the script the
	 * kernel adds for the interpreter: say how a '#!' line names one. */
	if (!o->script)
		return problem_fail(p, EINVAL, "no script given to run with "
			"%s%s", o->interp, o->words ? "" : " (a '#!' line "
			"names the interpreter after its options: -U,perl)");
	if (!*o->script)
		return problem_fail(p, EINVAL, "empty script name");
	return 0;
}

int pfi_options_parse(int argc, char *const *argv, struct pfi_options *o,
                      struct problem *p)
{
	static char *const no_args[] = { NULL };
	int r;

	memset(o, 0, sizeof *o);
	o->script_args = no_args;
	if (argc < 2)
		return problem_fail(p, EINVAL,
			"no interpreter given (try --help)");

	const char *first = argv[1];
	int combined = first[0] == '-' && strchr(first, ',');
	int spaced = !combined && strchr(first, ' ');

	if (combined || spaced) {
		if ((r = split_words(first, combined ? ',' : ' ', o, p)) < 0)
			return r;
		const char *const *w = o->words;
		if ((r = parse_words(o, &w, p)) < 0)
			return r;
		o->interp_args = (const char **)w;
		while (w[o->n_interp_args])
			o->n_interp_args++;
		if (argc > 2) {
			o->script = argv[2];
			o->script_args = argv + 3;
		}
	} else {
		const char *const *w = (const char *const *)argv + 1;
		if ((r = parse_words(o, &w, p)) < 0)
			return r;
		static const char *no_interp_args[] = { NULL };
		o->interp_args = no_interp_args;
		if (*w) {
			o->script = *w;
			o->script_args = (char *const *)w + 1;
		}
	}
	return finish(o, p);
}

void pfi_options_free(struct pfi_options *o)
{
	free(o->items);
	free(o->words);
	free(o->split_copy);
	o->items = NULL;
	o->words = NULL;
	o->split_copy = NULL;
}

const char **pfi_script_argv(const struct pfi_options *o)
{
	size_t n = 0, argc = 1 + o->n_interp_args + 1;
	for (char *const *a = o->script_args; *a; a++)
		argc++;
	const char **argv = calloc(argc + 1, sizeof *argv);
	if (!argv)
		return NULL;
	argv[n++] = o->interp;
	for (size_t i = 0; i < o->n_interp_args; i++)
		argv[n++] = o->interp_args[i];
	argv[n++] = o->script;
	for (char *const *a = o->script_args; *a; a++)
		argv[n++] = *a;
	argv[n] = NULL;
	return argv;
}
