#include "ident.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <nettle/sha2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

/* Bump when the ident's inputs change, so old and new clients never
 * share a server that the other would have named differently. */
#define IDENT_VERSION 3

#define WHOLE_LEN (PFI_IDENT_MAX - PFI_IDENT_FAMILY_LEN)

/* The three hashes; an item goes into every one from `from` on. */
enum { H_SCRIPT, H_FAMILY, H_WHOLE, N_HASHES };

struct hashes {
	struct sha256_ctx h[N_HASHES];
};

/* Every item is tagged and length-prefixed so that no two different
 * sequences of items can hash the same bytes. */
static void add_item(struct hashes *hs, int from, char tag, const void *data,
                     size_t len)
{
	uint8_t head[5] = { (uint8_t)tag, (uint8_t)(len >> 24),
			    (uint8_t)(len >> 16), (uint8_t)(len >> 8),
			    (uint8_t)len };
	for (int i = from; i < N_HASHES; i++) {
		sha256_update(&hs->h[i], sizeof head, head);
		sha256_update(&hs->h[i], len, data);
	}
}

static void add_string(struct hashes *hs, int from, char tag, const char *s)
{
	add_item(hs, from, tag, s, strlen(s));
}

static void add_identity(struct hashes *hs, int from, char tag,
                         const struct stat *st)
{
	uint64_t id[2] = { (uint64_t)st->st_dev, (uint64_t)st->st_ino };
	add_item(hs, from, tag, id, sizeof id);
}

/* The working directory, even when it cannot be searched (sudo -u from a
 * directory the target user may not enter): the kernel's link to it
 * needs no search permission. */
static int stat_cwd(struct stat *st, struct problem *p)
{
	if (stat(".", st) == 0 || stat("/proc/self/cwd", st) == 0)
		return 0;
	return problem_errno(p, errno, "cannot identify the working "
			     "directory");
}

/* The script part's items: the directory holding it (not the spelling
 * of the path to it) and its own name. */
static int add_script(struct hashes *hs, const char *script,
                      struct problem *p)
{
	char dir[PATH_MAX], name[PATH_MAX];
	struct utsname uts;
	struct stat st;

	if (strlen(script) >= sizeof dir)
		return problem_fail(p, ENAMETOOLONG, "script path '%s' is "
				    "too long", script);
	uint8_t version = IDENT_VERSION;
	add_item(hs, H_SCRIPT, 'v', &version, 1);

	memset(&uts, 0, sizeof uts);
	if (uname(&uts) < 0)
		return problem_errno(p, errno, "uname failed");
	add_string(hs, H_SCRIPT, 'u', uts.sysname);
	add_string(hs, H_SCRIPT, 'u', uts.nodename);
	add_string(hs, H_SCRIPT, 'u', uts.release);
	add_string(hs, H_SCRIPT, 'u', uts.version);
	add_string(hs, H_SCRIPT, 'u', uts.machine);

	/* dirname() and basename() may modify their argument. */
	strcpy(dir, script);
	strcpy(name, script);
	const char *d = dirname(dir);
	if (stat(d, &st) < 0)
		return problem_errno(p, errno, "cannot identify the directory "
				     "of script '%s'", script);
	add_identity(hs, H_SCRIPT, 'd', &st);
	add_string(hs, H_SCRIPT, 's', basename(name));
	return 0;
}

static void hex_digest(struct sha256_ctx *h, char *out, size_t digits)
{
	uint8_t digest[SHA256_DIGEST_SIZE];
	sha256_digest(h, sizeof digest, digest);
	for (size_t i = 0; i < digits / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

/* Each hash starts with its own letter, so that parts with the same
 * inputs (no -E) still differ. */
static void hashes_init(struct hashes *hs)
{
	for (int i = 0; i < N_HASHES; i++) {
		sha256_init(&hs->h[i]);
		sha256_update(&hs->h[i], 1, (const uint8_t *)&"SFW"[i]);
	}
}

int pfi_ident_script_part(const char *script,
                          char out[PFI_IDENT_SCRIPT_LEN + 1],
                          struct problem *p)
{
	struct hashes hs;
	hashes_init(&hs);
	int r = add_script(&hs, script, p);
	if (r < 0)
		return r;
	hex_digest(&hs.h[H_SCRIPT], out, PFI_IDENT_SCRIPT_LEN);
	return 0;
}

static void feed_hash(void *ctx, const void *data, size_t len)
{
	sha256_update(ctx, len, data);
}

/* The caller's credentials as one item: callers that differ in any of
 * them get their own server, started with their own credentials. */
static void add_creds(struct hashes *hs, int from, const struct pfi_creds *c)
{
	size_t len = 8 * 8 + 8 + 8 * c->n_groups + 8 * 8;
	uint8_t head[5] = { 'c', (uint8_t)(len >> 24), (uint8_t)(len >> 16),
			    (uint8_t)(len >> 8), (uint8_t)len };
	for (int i = from; i < N_HASHES; i++) {
		sha256_update(&hs->h[i], sizeof head, head);
		pfi_creds_feed(c, feed_hash, &hs->h[i]);
	}
}

/* What a server cannot change for a call without privilege: raising a
 * hard limit or the priority.  Callers that differ there get their own
 * server rather than a refused call. */
static void add_state_bounds(struct hashes *hs, int from,
                             const struct pfi_caller_state *st)
{
	uint64_t v[PFI_RLIMIT_COUNT + 1];
	for (int i = 0; i < PFI_RLIMIT_COUNT; i++)
		v[i] = st->rlimit[i].hard;
	v[PFI_RLIMIT_COUNT] = (uint64_t)(int64_t)st->nice;
	add_item(hs, from, 'r', v, sizeof v);
}

int pfi_ident_compute(const struct pfi_options *o, const struct pfi_creds *creds,
                      const struct pfi_caller_state *cs,
                      const struct pfi_confinement *conf,
                      char out[PFI_IDENT_BUF], struct problem *p)
{
	if (o->explicit_ident) {
		snprintf(out, PFI_IDENT_BUF, "%s", o->explicit_ident);
		return 0;
	}

	struct hashes hs;
	struct stat st;
	int r;

	hashes_init(&hs);
	if ((r = add_script(&hs, o->script, p)) < 0)
		return r;

	if ((r = stat_cwd(&st, p)) < 0)
		return r;
	add_identity(&hs, H_FAMILY, '.', &st);
	if (stat("/", &st) < 0)
		return problem_errno(p, errno, "cannot stat '/'");
	add_identity(&hs, H_FAMILY, '/', &st);

	add_string(&hs, H_FAMILY, 'i', o->interp);
	for (size_t i = 0; i < o->n_interp_args; i++)
		add_string(&hs, H_FAMILY, 'a', o->interp_args[i]);
	/* A server whose initialisation saw a caller's environment must
	 * never answer a laundered (-L) client, nor the other way round. */
	if (o->laundered)
		add_item(&hs, H_FAMILY, 'L', "", 0);

	for (size_t i = 0; i < o->n_items; i++) {
		const struct pfi_ident_item *it = &o->items[i];
		add_string(&hs, H_FAMILY, it->kind, it->value);
		if (it->kind != 'E')
			continue;
		const char *v = getenv(it->value);
		if (v)
			add_string(&hs, H_WHOLE, '=', v);
		else
			add_item(&hs, H_WHOLE, '-', "", 0);
	}

	/* Credentials, state bounds and confinement are family items:
	 * callers that differ get servers of their own (docs/protocol.md). */
	add_creds(&hs, H_FAMILY, creds);
	add_state_bounds(&hs, H_FAMILY, cs);
	add_item(&hs, H_FAMILY, 'n', conf->text, conf->len);

	hex_digest(&hs.h[H_SCRIPT], out, PFI_IDENT_SCRIPT_LEN);
	hex_digest(&hs.h[H_FAMILY], out + PFI_IDENT_SCRIPT_LEN,
		   PFI_IDENT_FAMILY_LEN - PFI_IDENT_SCRIPT_LEN);
	hex_digest(&hs.h[H_WHOLE], out + PFI_IDENT_FAMILY_LEN, WHOLE_LEN);
	out[PFI_IDENT_MAX] = '\0';
	return 0;
}
