/* Option parser: the input, split on NUL, is argv (argv[0] included,
 * every string an exact-size heap copy).
 *
 * Checks: the parser never writes to argv; a failure always comes with
 * a problem code equal to the returned one and a message; on success
 * (other than --help/--version, --list, --kill-all and --kill, which
 * run nothing and have their own checks) exactly one of -U and -L is set,
 * interpreter and script are non-empty, and every pointer it returns points into an argv string or
 * into its own copy of the combined argument, with the lists
 * NULL-terminated and counted right; -E/-G/-g values obey their rules.
 * Metamorphic: a combined first argument (-U,perl,-w) that parses must
 * parse the same when spaced ('-U perl -w') and, when it names an
 * interpreter but no interpreter arguments, when given as separate
 * words (-U perl).
 * pfi_options_free() is always called; LeakSanitizer checks it frees
 * everything. */
#include "fuzz.h"
#include "options.h"

#include <errno.h>

#define MAX_ARGS 64

struct argv_copy {
	int argc;
	char *argv[MAX_ARGS + 1];
	size_t len[MAX_ARGS];
};

static void argv_free(struct argv_copy *a)
{
	for (int i = 0; i < a->argc; i++)
		free(a->argv[i]);
	a->argc = 0;
}

static void argv_push(struct argv_copy *a, const void *s, size_t n)
{
	FUZZ_CHECK(a->argc < MAX_ARGS);
	char *copy = malloc(n + 1);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, s, n);
	copy[n] = '\0';
	a->len[a->argc] = n;
	a->argv[a->argc++] = copy;
	a->argv[a->argc] = NULL;
}

/* Is s a whole string inside one of the argv strings or inside the
 * parser's own copy of argv[1]? */
static int owned_string(const char *s, const struct argv_copy *a,
                        const struct pfi_options *o)
{
	if (!s)
		return 0;
	for (int i = 0; i < a->argc; i++)
		if (s >= a->argv[i] && s <= a->argv[i] + a->len[i])
			return s + strlen(s) <= a->argv[i] + a->len[i];
	if (o->split_copy && a->argc > 1 && s >= o->split_copy &&
	    s <= o->split_copy + a->len[1])
		return s + strlen(s) <= o->split_copy + a->len[1];
	return 0;
}

static int ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static void check_success(const struct argv_copy *a,
                          const struct pfi_options *o)
{
	FUZZ_CHECK(o->mode == PFI_MODE_NORMAL || o->mode == PFI_MODE_FRESH ||
		   o->mode == PFI_MODE_KILL || o->mode == PFI_MODE_KILL_ALL ||
		   o->mode == PFI_MODE_LIST);
	for (size_t i = 0; i < o->n_items; i++) {
		const struct pfi_ident_item *it = &o->items[i];
		FUZZ_CHECK(it->kind == 'E' || it->kind == 'G');
		FUZZ_CHECK(owned_string(it->value, a, o));
		if (it->kind == 'E')
			FUZZ_CHECK(*it->value && !strchr(it->value, '='));
	}
	if (o->explicit_ident) {
		FUZZ_CHECK(owned_string(o->explicit_ident, a, o));
		size_t n = strlen(o->explicit_ident);
		FUZZ_CHECK(n >= 1 && n <= PFI_IDENT_MAX);
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(ident_char(o->explicit_ident[i]));
	}
	if (o->run_dir)
		FUZZ_CHECK(owned_string(o->run_dir, a, o));
	if (o->want_help || o->want_version)
		return;
	switch (o->mode) {
	case PFI_MODE_LIST:
	case PFI_MODE_KILL_ALL:
		/* these act on all of the user's servers: nothing to run,
		 * and no -g name that would seem to narrow them */
		FUZZ_CHECK(!o->interp && !o->script && !o->explicit_ident);
		return;
	case PFI_MODE_KILL:
		/* --kill SCRIPT or --kill -g NAME; -U/-L play no part */
		FUZZ_CHECK(o->script || o->explicit_ident);
		if (o->script)
			FUZZ_CHECK(owned_string(o->script, a, o) &&
				   *o->script);
		if (o->interp)
			FUZZ_CHECK(owned_string(o->interp, a, o));
		/* it runs nothing: no arguments for the script */
		FUZZ_CHECK(!o->script_args[0]);
		return;
	default:
		break;
	}

	FUZZ_CHECK(!!o->unlaundered + !!o->laundered == 1);
	FUZZ_CHECK(owned_string(o->interp, a, o) && *o->interp);
	FUZZ_CHECK(owned_string(o->script, a, o) && *o->script);
	FUZZ_CHECK(o->interp_args != NULL);
	for (size_t i = 0; i < o->n_interp_args; i++)
		FUZZ_CHECK(owned_string(o->interp_args[i], a, o));
	FUZZ_CHECK(o->interp_args[o->n_interp_args] == NULL);

	/* script and its arguments are a tail of argv itself */
	int k = 1;
	while (k < a->argc && a->argv[k] != o->script)
		k++;
	FUZZ_CHECK(k < a->argc);
	FUZZ_CHECK(o->script_args == a->argv + k + 1);

	int combined = a->argv[1][0] == '-' && strchr(a->argv[1], ',');
	int spaced = !combined && strchr(a->argv[1], ' ');
	if (combined || spaced) {
		FUZZ_CHECK(k == 2);
		FUZZ_CHECK(o->split_copy != NULL);
	} else {
		FUZZ_CHECK(o->n_interp_args == 0 && o->split_copy == NULL);
	}
}

static int parse(const struct argv_copy *a, struct pfi_options *o)
{
	struct problem p = { 0 };
	int r = pfi_options_parse(a->argc, a->argv, o, &p);
	FUZZ_CHECK(r <= 0);
	if (r < 0) {
		FUZZ_CHECK(p.code == -r);
		FUZZ_CHECK(memchr(p.msg, '\0', sizeof p.msg) != NULL);
		FUZZ_CHECK(p.msg[0] != '\0');
	} else {
		FUZZ_CHECK(p.code == 0);
		check_success(a, o);
	}
	return r;
}

static int same_str(const char *x, const char *y)
{
	return x == y || (x && y && strcmp(x, y) == 0);
}

static void check_same(const struct pfi_options *x,
                       const struct pfi_options *y)
{
	if (x->mode == PFI_MODE_KILL && x->explicit_ident) {
		/* --kill -g NAME stops by name: the words after it play no
		 * part (main.c, manage), and which of them the spaced and
		 * combined forms take for interpreter or script differs. */
		FUZZ_CHECK(y->mode == PFI_MODE_KILL);
		FUZZ_CHECK(same_str(x->explicit_ident, y->explicit_ident));
		FUZZ_CHECK(same_str(x->run_dir, y->run_dir));
		return;
	}
	FUZZ_CHECK(x->unlaundered == y->unlaundered &&
		   x->laundered == y->laundered && x->mode == y->mode);
	FUZZ_CHECK(same_str(x->explicit_ident, y->explicit_ident));
	FUZZ_CHECK(same_str(x->run_dir, y->run_dir));
	FUZZ_CHECK(x->n_items == y->n_items);
	for (size_t i = 0; i < x->n_items; i++)
		FUZZ_CHECK(x->items[i].kind == y->items[i].kind &&
			   same_str(x->items[i].value, y->items[i].value));
	FUZZ_CHECK(same_str(x->interp, y->interp));
	FUZZ_CHECK(x->n_interp_args == y->n_interp_args);
	for (size_t i = 0; i < x->n_interp_args; i++)
		FUZZ_CHECK(same_str(x->interp_args[i], y->interp_args[i]));
	FUZZ_CHECK(same_str(x->script, y->script));
	for (size_t i = 0; x->script_args[i] || y->script_args[i]; i++)
		FUZZ_CHECK(same_str(x->script_args[i], y->script_args[i]));
}

/* Re-parses a successfully parsed combined form as the spaced form and,
 * if there are no interpreter arguments, as separate words. */
static void check_forms(const struct argv_copy *a,
                        const struct pfi_options *o)
{
	const char *first = a->argv[1];
	if (o->want_help || o->want_version || first[0] != '-' ||
	    !strchr(first, ',') || strchr(first, ' '))
		return;

	struct argv_copy b = { 0 };
	struct pfi_options ob;
	char *spaced = strdup(first);
	FUZZ_CHECK(spaced != NULL);
	for (char *c = spaced; *c; c++)
		if (*c == ',')
			*c = ' ';
	argv_push(&b, a->argv[0], a->len[0]);
	argv_push(&b, spaced, a->len[1]);
	for (int i = 2; i < a->argc; i++)
		argv_push(&b, a->argv[i], a->len[i]);
	FUZZ_CHECK(parse(&b, &ob) == 0);
	check_same(o, &ob);
	pfi_options_free(&ob);
	argv_free(&b);

	/* Only with an interpreter in the combined argument: without one
	 * (--kill,-g,NAME) the word after it is the script there, while
	 * as separate words it is read as more options or the
	 * interpreter. */
	if (o->n_interp_args == 0 && o->interp) {
		argv_push(&b, a->argv[0], a->len[0]);
		for (char *save = NULL, *w = strtok_r(spaced, " ", &save); w;
		     w = strtok_r(NULL, " ", &save)) {
			if (b.argc == MAX_ARGS)
				goto out;           /* too many words to compare */
			argv_push(&b, w, strlen(w));
		}
		for (int i = 2; i < a->argc; i++) {
			if (b.argc == MAX_ARGS)
				goto out;
			argv_push(&b, a->argv[i], a->len[i]);
		}
		FUZZ_CHECK(parse(&b, &ob) == 0);
		check_same(o, &ob);
		pfi_options_free(&ob);
	}
out:
	argv_free(&b);
	free(spaced);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct argv_copy a = { 0 };
	for (size_t i = 0; i <= size && a.argc < MAX_ARGS;) {
		const uint8_t *nul = memchr(data + i, '\0', size - i);
		size_t n = nul ? (size_t)(nul - (data + i)) : size - i;
		argv_push(&a, data + i, n);
		i += n + 1;
	}

	struct pfi_options o;
	int r = parse(&a, &o);
	if (r == 0)
		check_forms(&a, &o);
	pfi_options_free(&o);
	FUZZ_CHECK(!o.items && !o.words && !o.split_copy);

	/* argv is untouched */
	size_t off = 0;
	for (int i = 0; i < a.argc; i++) {
		FUZZ_CHECK(memcmp(a.argv[i], data + off, a.len[i]) == 0 &&
			   a.argv[i][a.len[i]] == '\0');
		off += a.len[i] + 1;
	}
	argv_free(&a);
	return 0;
}
