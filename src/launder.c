/* Laundered environment for the setup: see launder.h. */
#include "launder.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static int has_name(char *const *env, size_t n, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < n; i++)
		if (!strncmp(env[i], name, len) && env[i][len] == '=')
			return 1;
	return 0;
}

/* Appends NAME=value unless NAME is already there. */
static int add(char **env, size_t *n, const char *name, const char *value)
{
	if (!value || has_name(env, *n, name))
		return 0;
	if (asprintf(&env[*n], "%s=%s", name, value) < 0)
		return -ENOMEM;
	(*n)++;
	return 0;
}

int pfi_launder_environment(const struct pfi_options *o)
{
	/* The -E variables, then PATH, HOME, USER, LOGNAME, then NULL. */
	char **env = calloc(o->n_items + 5, sizeof *env);
	if (!env)
		return -ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < o->n_items; i++)
		if (o->items[i].kind == 'E' &&
		    add(env, &n, o->items[i].value,
			getenv(o->items[i].value)) < 0)
			return -ENOMEM;

	/* Who we are, not what the caller says: the password database. */
	const struct passwd *pw = getpwuid(geteuid());
	if (add(env, &n, "PATH", PFI_LAUNDERED_PATH) < 0 ||
	    (pw && (add(env, &n, "HOME", pw->pw_dir) < 0 ||
		    add(env, &n, "USER", pw->pw_name) < 0 ||
		    add(env, &n, "LOGNAME", pw->pw_name) < 0)))
		return -ENOMEM;
	env[n] = NULL;
	/* The setup child is about to exec: the old array is not freed. */
	environ = env;
	return 0;
}
