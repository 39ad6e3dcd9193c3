#include "call.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "protocol.h"
#include "relay.h"
#include "testhook.h"
#include "wire.h"

extern char **environ;

static int read_exact(int fd, uint8_t *buf, size_t len, const char *what,
                      int watch_caller, struct problem *p)
{
	size_t got;
	int r = pfi_wire_read(fd, buf, len, &got, watch_caller, NULL, p);
	if (r < 0)
		return r;
	if (got != len)
		return problem_fail(p, EPROTO, "server hung up in the middle "
				    "of %s (%zu of %zu bytes)", what, got, len);
	return 0;
}

static int read_greeting(const struct pfi_reached *server, unsigned *features,
                         struct problem *p)
{
	uint32_t xdata_len;
	uint8_t xdata[PFI_XDATA_MAX];

	if (server->head_len != PFI_GREETING_HEAD)
		return problem_fail(p, EPROTO, "server hung up in the middle "
				    "of its greeting (%zu of %d bytes)",
				    server->head_len, PFI_GREETING_HEAD);
	PFI_TEST_HOOK("decode-greeting", server->fd);
	int r = pfi_greeting_head_decode(server->head, server->head_len,
					 &xdata_len);
	if (r == -EMSGSIZE)
		return problem_fail(p, EPROTO, "server's greeting announces "
				    "too much extension data (limit %d bytes)",
				    PFI_XDATA_MAX);
	if (r < 0)
		return problem_fail(p, EPROTO, "server sent a bad greeting "
				    "(not a prefork-interp server?)");
	if ((r = read_exact(server->fd, xdata, xdata_len, "its greeting", 1,
			    p)) < 0)
		return r;
	if (pfi_xdata_decode(xdata, xdata_len, features) < 0)
		return problem_fail(p, EPROTO, "server's greeting has "
				    "malformed extension data");
	return 0;
}

/* A server that offers full-argv strips interpreter and script itself;
 * a plain v1 server (chiark-utils' module) hands every string to the
 * script as @ARGV, so it gets only the script's own arguments. */
static int send_request(const struct pfi_options *o, int fd, unsigned features,
                        uint8_t extensions, struct problem *p)
{
	size_t n = 0, size;
	for (char *const *a = o->script_args; *a; a++)
		n++;
	const char **args = calloc(n + 3, sizeof *args);
	if (!args)
		return problem_errno(p, ENOMEM, "building the request");
	size_t used = 0;
	if (features & PFI_FEATURE_FULL_ARGV) {
		args[used++] = o->interp;
		args[used++] = o->script;
	}
	for (char *const *a = o->script_args; *a; a++)
		args[used++] = *a;
	args[used] = NULL;

	const char *const *env = (const char *const *)environ;
	uint8_t *buf = NULL;
	int r = pfi_request_encode(env, args, NULL, 0, &size);
	if (r == 0 && !(buf = malloc(size)))
		r = -ENOMEM;
	if (r == 0)
		r = pfi_request_encode(env, args, buf, size, &size);
	free(args);
	if (r < 0) {
		free(buf);
		return problem_fail(p, -r, "arguments and environment are too "
				    "large to send (limits: %u bytes, %u "
				    "strings)", PFI_REQUEST_MAX,
				    PFI_REQUEST_MAX_STRINGS);
	}
	if ((r = pfi_wire_write_all(fd, &extensions, 1, p)) == 0 &&
	    (r = pfi_wire_send_stdio(fd, p)) == 0) {
		PFI_TEST_HOOK("send-request", fd);   /* a signal mid-request */
		r = pfi_wire_write_all(fd, buf, size, p);
	}
	free(buf);
	return r;
}

/* caller-state (step-2 bit 0x01): the block right after the request. */
static int send_caller_state(int fd, const struct pfi_caller_state *st,
                             struct problem *p)
{
	uint8_t block[PFI_CALLER_STATE_MAX + 4];
	int n = pfi_caller_state_encode(st, block, sizeof block);
	if (n < 0)
		return problem_fail(p, -n, "cannot encode the caller's process "
				    "state");
	return pfi_wire_write_all(fd, block, (size_t)n, p);
}

/* extra-fds (step-2 bit 0x04): the numbers, then each fd in its own
 * message; then the client lets go of them, as a standalone run's
 * caller would have handed them over. */
static int send_extra_fds(int fd, struct pfi_caller_fds *extra,
                          struct problem *p)
{
	uint8_t block[PFI_EXTRA_FDS_BLOCK];
	int n = pfi_extra_fds_encode(extra->fd, extra->n, block, sizeof block);
	if (n < 0)
		return problem_fail(p, -n, "cannot encode the caller's open fds");
	int r = pfi_wire_write_all(fd, block, (size_t)n, p);
	for (size_t i = 0; r == 0 && i < extra->n; i++)
		r = pfi_wire_send_fd(fd, extra->fd[i], p);
	if (r == 0)
		pfi_caller_fds_close(extra);
	return r;
}

int pfi_call_run(const struct pfi_options *o, const struct pfi_reached *server,
                 const struct pfi_caller_state *st,
                 struct pfi_caller_fds *extra, int *wait_status,
                 struct problem *p)
{
	unsigned features;
	uint8_t status[PFI_STATUS_LEN];
	int r;

	struct pfi_relay relay;
	if ((r = read_greeting(server, &features, p)) < 0)
		return r;
	/* [signals] blocked before the request, relayed after it (and
	 * after the caller-state block) */
	int relaying = pfi_uses_signals(features) != 0;
	if (relaying && (r = pfi_relay_prepare(&relay, p)) < 0)
		return r;
	const uint8_t extensions = pfi_step2_encode(features) |
				   pfi_uses_extra_fds(features, extra->n);
	if ((r = send_request(o, server->fd, features, extensions, p)) < 0)
		return r;
	if ((extensions & PFI_USE_CALLER_STATE) &&
	    (r = send_caller_state(server->fd, st, p)) < 0)
		return r;
	if ((extensions & PFI_USE_EXTRA_FDS) &&
	    (r = send_extra_fds(server->fd, extra, p)) < 0)
		return r;
	if (relaying)
		return pfi_relay_run(&relay, server->fd, wait_status, p);
	/* Not watching the caller here: the executor holds the caller's
	 * own fds and meets a vanished reader itself, as a standalone
	 * run would. */
	size_t got;
	if ((r = pfi_wire_read(server->fd, status, sizeof status, &got, 0,
			       NULL, p)) < 0)
		return r;
	if (got != sizeof status)
		return pfi_status_cut_short(got, p);
	if (pfi_status_decode(status, sizeof status, wait_status) < 0)
		return problem_fail(p, EPROTO, "server reported an impossible "
				    "wait status");
	return 0;
}
