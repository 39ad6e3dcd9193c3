#include "ident.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

/* Bump when the ident's inputs change, so old and new clients never
 * share a server that the other would have named differently. */
#define IDENT_VERSION 2

/* Every item is tagged and length-prefixed so that no two different
 * sequences of items can hash the same bytes. */
static void add_item(struct sha256_ctx *h, char tag, const void *data,
                     size_t len)
{
	uint8_t head[5] = { (uint8_t)tag, (uint8_t)(len >> 24),
			    (uint8_t)(len >> 16), (uint8_t)(len >> 8),
			    (uint8_t)len };
	sha256_update(h, sizeof head, head);
	sha256_update(h, len, data);
}

static void add_string(struct sha256_ctx *h, char tag, const char *s)
{
	add_item(h, tag, s, strlen(s));
}

static int add_file_identity(struct sha256_ctx *h, char tag,
                             const char *path, struct problem *p)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return problem_errno(p, errno, "cannot stat '%s'", path);
	uint64_t id[2] = { (uint64_t)st.st_dev, (uint64_t)st.st_ino };
	add_item(h, tag, id, sizeof id);
	return 0;
}

static void feed_hash(void *ctx, const void *data, size_t len)
{
	sha256_update(ctx, len, data);
}

/* The caller's credentials as one item: callers that differ in any of
 * them get their own server, started with their own credentials. */
static void add_creds(struct sha256_ctx *h, const struct pfi_creds *c)
{
	size_t len = 8 * 8 + 8 + 8 * c->n_groups + 8 * 8;
	uint8_t head[5] = { 'c', (uint8_t)(len >> 24), (uint8_t)(len >> 16),
			    (uint8_t)(len >> 8), (uint8_t)len };
	sha256_update(h, sizeof head, head);
	pfi_creds_feed(c, feed_hash, h);
}

/* What a server cannot change for a call without privilege: raising a
 * hard limit or the priority.  Callers that differ there get their own
 * server rather than a refused call. */
static void add_state_bounds(struct sha256_ctx *h,
                             const struct pfi_caller_state *st)
{
	uint64_t v[PFI_RLIMIT_COUNT + 1];
	for (int i = 0; i < PFI_RLIMIT_COUNT; i++)
		v[i] = st->rlimit[i].hard;
	v[PFI_RLIMIT_COUNT] = (uint64_t)(int64_t)st->nice;
	add_item(h, 'r', v, sizeof v);
}

int pfi_ident_compute(const struct pfi_options *o, const struct pfi_creds *creds,
                      const struct pfi_caller_state *st,
                      char out[PFI_IDENT_BUF], struct problem *p)
{
	if (o->explicit_ident) {
		snprintf(out, PFI_IDENT_BUF, "%s", o->explicit_ident);
		return 0;
	}

	struct sha256_ctx h;
	struct utsname uts;
	int r;

	sha256_init(&h);
	uint8_t version = IDENT_VERSION;
	add_item(&h, 'v', &version, 1);

	memset(&uts, 0, sizeof uts);
	if (uname(&uts) < 0)
		return problem_errno(p, errno, "uname failed");
	add_string(&h, 'u', uts.sysname);
	add_string(&h, 'u', uts.nodename);
	add_string(&h, 'u', uts.release);
	add_string(&h, 'u', uts.version);
	add_string(&h, 'u', uts.machine);

	if ((r = add_file_identity(&h, '.', ".", p)) < 0 ||
	    (r = add_file_identity(&h, '/', "/", p)) < 0)
		return r;

	add_string(&h, 'i', o->interp);
	for (size_t i = 0; i < o->n_interp_args; i++)
		add_string(&h, 'a', o->interp_args[i]);
	add_string(&h, 's', o->script);
	/* A server whose initialisation saw a caller's environment must
	 * never answer a laundered (-L) client, nor the other way round. */
	if (o->laundered)
		add_item(&h, 'L', "", 0);

	for (size_t i = 0; i < o->n_items; i++) {
		const struct pfi_ident_item *it = &o->items[i];
		if (it->kind == 'G') {
			add_string(&h, 'G', it->value);
			continue;
		}
		add_string(&h, 'E', it->value);
		const char *v = getenv(it->value);
		if (v)
			add_string(&h, '=', v);
		else
			add_item(&h, '-', "", 0);
	}

	add_creds(&h, creds);
	add_state_bounds(&h, st);

	uint8_t digest[SHA256_DIGEST_SIZE];
	sha256_digest(&h, sizeof digest, digest);
	for (size_t i = 0; i < sizeof digest; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
	return 0;
}
