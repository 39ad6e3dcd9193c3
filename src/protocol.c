/* Wire codec: see protocol.h.  No I/O, no allocation. */
#include "protocol.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

int pfi_greeting_head_decode(const uint8_t *buf, size_t len,
                             uint32_t *xdata_len)
{
	if (len != PFI_GREETING_HEAD)
		return -EPROTO;
	if (memcmp(buf, PFI_MAGIC, PFI_MAGIC_LEN) != 0)
		return -EPROTO;
	uint32_t n = get_be32(buf + PFI_MAGIC_LEN);
	if (n > PFI_XDATA_MAX)
		return -EMSGSIZE;
	*xdata_len = n;
	return 0;
}

int pfi_greeting_head_declined(const uint8_t *buf, size_t len)
{
	return len == PFI_GREETING_HEAD &&
	       memcmp(buf, PFI_DECLINED, PFI_GREETING_HEAD) == 0;
}

static const struct {
	const char *token;
	unsigned bit;
} known_features[] = {
	{ "full-argv", PFI_FEATURE_FULL_ARGV },
	{ "caller-state", PFI_FEATURE_CALLER_STATE },
	{ "signals", PFI_FEATURE_SIGNALS },
	{ "extra-fds", PFI_FEATURE_EXTRA_FDS },
};

#define N_KNOWN (sizeof(known_features) / sizeof(known_features[0]))

static int token_char_ok(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static unsigned feature_bit(const uint8_t *tok, size_t len)
{
	for (size_t i = 0; i < N_KNOWN; i++) {
		const char *name = known_features[i].token;
		if (strlen(name) == len && memcmp(name, tok, len) == 0)
			return known_features[i].bit;
	}
	return 0;
}

int pfi_xdata_decode(const uint8_t *buf, size_t len, unsigned *features)
{
	*features = 0;
	if (len > PFI_XDATA_MAX)
		return -EMSGSIZE;
	if (len == 0)
		return 0;

	unsigned found = 0;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && buf[i] != ' ') {
			if (!token_char_ok(buf[i]))
				return -EPROTO;
			continue;
		}
		size_t toklen = i - start;
		if (toklen == 0 || toklen > PFI_FEATURE_MAX)
			return -EPROTO;
		found |= feature_bit(buf + start, toklen);
		start = i + 1;
	}
	*features = found;
	return 0;
}

int pfi_xdata_encode(unsigned features, uint8_t *buf, size_t cap)
{
	size_t used = 0;
	for (size_t i = 0; i < N_KNOWN; i++) {
		if (!(features & known_features[i].bit))
			continue;
		size_t n = strlen(known_features[i].token);
		size_t need = n + (used ? 1 : 0);
		if (need > cap - used)
			return -ENOBUFS;
		if (used)
			buf[used++] = ' ';
		memcpy(buf + used, known_features[i].token, n);
		used += n;
	}
	return (int)used;
}

/* A process can only have died of a signal whose default action ends
 * it; reproducing any other (SIGSTOP, SIGCHLD, ...) would not end us. */
static int signal_can_kill(int sig)
{
	switch (sig) {
	case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU:
	case SIGCHLD: case SIGCONT: case SIGURG: case SIGWINCH:
		return 0;
	default:
		return sig >= 1 && sig <= SIGRTMAX;
	}
}

int pfi_status_decode(const uint8_t *buf, size_t len, int *wait_status)
{
	if (len != PFI_STATUS_LEN)
		return -EPROTO;
	uint32_t v = get_be32(buf);
	if (v > INT_MAX)
		return -EPROTO;
	int st = (int)v;
	/* Only the status of a process that has ended makes sense here;
	 * a "stopped" or "continued" status, or stray high bits, does not. */
	if (WIFEXITED(st)) {
		if (st & ~0xff00)
			return -EPROTO;
	} else if (WIFSIGNALED(st)) {
		if (st & ~0xff || !signal_can_kill(WTERMSIG(st)))
			return -EPROTO;
	} else {
		return -EPROTO;
	}
	*wait_status = st;
	return 0;
}

void pfi_status_encode(int wait_status, uint8_t out[PFI_STATUS_LEN])
{
	put_be32(out, (uint32_t)wait_status);
}

/* Adds one NUL-terminated string to the encoding, or only measures it. */
static int put_string(const char *s, uint8_t *buf, size_t cap, size_t *used)
{
	size_t n = strlen(s) + 1;
	if (n > PFI_REQUEST_MAX - *used)
		return -E2BIG;
	if (buf) {
		if (n > cap - *used)
			return -ENOBUFS;
		memcpy(buf + *used, s, n);
	}
	*used += n;
	return 0;
}

int pfi_request_encode(const char *const *env, const char *const *args,
                       uint8_t *buf, size_t cap, size_t *size)
{
	size_t used = 4, strings = 0;
	int r;

	if (buf && cap < 4)
		return -ENOBUFS;
	for (; env && *env; env++) {
		if (!strchr(*env, '='))
			continue;
		if (++strings > PFI_REQUEST_MAX_STRINGS)
			return -E2BIG;
		if ((r = put_string(*env, buf, cap, &used)) < 0)
			return r;
	}
	if ((r = put_string("", buf, cap, &used)) < 0)
		return r;
	for (; args && *args; args++) {
		if (++strings > PFI_REQUEST_MAX_STRINGS)
			return -E2BIG;
		if ((r = put_string(*args, buf, cap, &used)) < 0)
			return r;
	}
	if (buf)
		put_be32(buf, (uint32_t)(used - 4));
	*size = used;
	return 0;
}

int pfi_request_decode(const uint8_t *buf, size_t len,
                       const struct pfi_request_visitor *visitor)
{
	if (len < 4)
		return -EPROTO;
	uint32_t body = get_be32(buf);
	if (body > PFI_REQUEST_MAX || body != len - 4)
		return -EPROTO;
	const uint8_t *p = buf + 4, *end = buf + len;
	if (body == 0 || end[-1] != '\0')
		return -EPROTO;

	int in_env = 1, r;
	size_t strings = 0;
	while (p < end) {
		const uint8_t *nul = memchr(p, '\0', (size_t)(end - p));
		size_t n = (size_t)(nul - p);   /* nul exists: end[-1] == 0 */
		if (in_env && n == 0) {
			in_env = 0;
		} else if (++strings > PFI_REQUEST_MAX_STRINGS) {
			return -EPROTO;
		} else if (in_env) {
			if (!memchr(p, '=', n))
				return -EPROTO;
			if (visitor->on_env &&
			    (r = visitor->on_env(visitor->ctx, (const char *)p, n)) < 0)
				return r;
		} else if (visitor->on_arg &&
			   (r = visitor->on_arg(visitor->ctx, (const char *)p, n)) < 0) {
			return r;
		}
		p = nul + 1;
	}
	return in_env ? -EPROTO : 0;
}

uint8_t pfi_step2_encode(unsigned offered)
{
	uint8_t used = 0;
	if (offered & PFI_FEATURE_CALLER_STATE)
		used |= PFI_USE_CALLER_STATE;
	used |= pfi_uses_signals(offered);
	return used;
}

/* ---- caller-state block ---- */

const char *const pfi_rlimit_names[PFI_RLIMIT_COUNT] = {
	[RLIMIT_CPU] = "cpu",               [RLIMIT_FSIZE] = "fsize",
	[RLIMIT_DATA] = "data",             [RLIMIT_STACK] = "stack",
	[RLIMIT_CORE] = "core",             [RLIMIT_RSS] = "rss",
	[RLIMIT_NPROC] = "nproc",           [RLIMIT_NOFILE] = "nofile",
	[RLIMIT_MEMLOCK] = "memlock",       [RLIMIT_AS] = "as",
	[RLIMIT_LOCKS] = "locks",           [RLIMIT_SIGPENDING] = "sigpending",
	[RLIMIT_MSGQUEUE] = "msgqueue",     [RLIMIT_NICE] = "nice",
	[RLIMIT_RTPRIO] = "rtprio",         [RLIMIT_RTTIME] = "rttime",
};

/* Neither can be ignored or blocked: a mask naming them is not a state
 * any process can have. */
#define UNCATCHABLE ((1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1)))

static int state_valid(const struct pfi_caller_state *st)
{
	if (st->umask > 0777 || st->nice < -20 || st->nice > 19)
		return 0;
	if ((st->sigign | st->sigblock) & UNCATCHABLE)
		return 0;
	for (int i = 0; i < PFI_RLIMIT_COUNT; i++)
		if (st->rlimit[i].soft > st->rlimit[i].hard)
			return 0;
	return 1;
}

/* snprintf into what is left of buf; -ENOBUFS when it does not fit
 * (the NUL that ends the entry is part of the entry). */
static int put_entry(uint8_t *buf, size_t cap, size_t *used,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int put_entry(uint8_t *buf, size_t cap, size_t *used,
                     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf((char *)buf + *used, cap - *used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n + 1 > cap - *used)
		return -ENOBUFS;
	*used += (size_t)n + 1;
	return 0;
}

static void limit_text(uint64_t v, char out[24])
{
	if (v == PFI_RLIM_INF)
		memcpy(out, "inf", 4);
	else
		snprintf(out, 24, "%llu", (unsigned long long)v);
}

int pfi_caller_state_encode(const struct pfi_caller_state *st, uint8_t *buf,
                            size_t cap)
{
	if (!state_valid(st))
		return -EINVAL;
	if (cap < 4)
		return -ENOBUFS;
	/* The body is at most ~1 KiB, far below PFI_CALLER_STATE_MAX. */
	size_t used = 4;
	int r;
	if ((r = put_entry(buf, cap, &used, "umask=%04o", st->umask)) < 0 ||
	    (r = put_entry(buf, cap, &used, "nice=%d", st->nice)) < 0)
		return r;
	for (int i = 0; i < PFI_RLIMIT_COUNT; i++) {
		char soft[24], hard[24];
		limit_text(st->rlimit[i].soft, soft);
		limit_text(st->rlimit[i].hard, hard);
		if ((r = put_entry(buf, cap, &used, "rlimit.%s=%s:%s",
				   pfi_rlimit_names[i], soft, hard)) < 0)
			return r;
	}
	if ((r = put_entry(buf, cap, &used, "sigign=%016llx",
			   (unsigned long long)st->sigign)) < 0 ||
	    (r = put_entry(buf, cap, &used, "sigblock=%016llx",
			   (unsigned long long)st->sigblock)) < 0)
		return r;
	put_be32(buf, (uint32_t)(used - 4));
	return (int)used;
}

/* Decimal without sign, leading zeros or overflow, below PFI_RLIM_INF;
 * or "inf".  Returns 0 or -EPROTO. */
static int parse_limit(const char *s, size_t n, uint64_t *out)
{
	if (n == 3 && memcmp(s, "inf", 3) == 0) {
		*out = PFI_RLIM_INF;
		return 0;
	}
	if (n == 0 || n > 20 || (s[0] == '0' && n > 1))
		return -EPROTO;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EPROTO;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -EPROTO;
		v = v * 10 + d;
	}
	if (v == PFI_RLIM_INF)      /* infinity is spelt "inf" */
		return -EPROTO;
	*out = v;
	return 0;
}

/* Exactly 16 lowercase hex digits. */
static int parse_mask(const char *s, size_t n, uint64_t *out)
{
	if (n != 16)
		return -EPROTO;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned d;
		if (s[i] >= '0' && s[i] <= '9')
			d = (unsigned)(s[i] - '0');
		else if (s[i] >= 'a' && s[i] <= 'f')
			d = (unsigned)(s[i] - 'a' + 10);
		else
			return -EPROTO;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

int pfi_umask_decode(const char *s, size_t n, unsigned *out)
{
	if (n != 4 || s[0] != '0')
		return -EPROTO;
	unsigned v = 0;
	for (size_t i = 1; i < 4; i++) {
		if (s[i] < '0' || s[i] > '7')
			return -EPROTO;
		v = v << 3 | (unsigned)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* -20 .. 19, no "+", no leading zeros, no "-0". */
static int parse_nice(const char *s, size_t n, int *out)
{
	int neg = n > 0 && s[0] == '-';
	const char *d = s + neg;
	size_t dn = n - (size_t)neg;
	if (dn == 0 || dn > 2 || (d[0] == '0' && (dn > 1 || neg)))
		return -EPROTO;
	int v = 0;
	for (size_t i = 0; i < dn; i++) {
		if (d[i] < '0' || d[i] > '9')
			return -EPROTO;
		v = v * 10 + (d[i] - '0');
	}
	v = neg ? -v : v;
	if (v < -20 || v > 19)
		return -EPROTO;
	*out = v;
	return 0;
}

/* Key slots: umask, nice, the limits, sigign, sigblock. */
enum { SLOT_UMASK, SLOT_NICE, SLOT_RLIMIT0,
       SLOT_SIGIGN = SLOT_RLIMIT0 + PFI_RLIMIT_COUNT, SLOT_SIGBLOCK,
       N_SLOTS };

static int key_slot(const char *k, size_t n)
{
	static const char rl[] = "rlimit.";
	if (n == 5 && memcmp(k, "umask", 5) == 0)
		return SLOT_UMASK;
	if (n == 4 && memcmp(k, "nice", 4) == 0)
		return SLOT_NICE;
	if (n == 6 && memcmp(k, "sigign", 6) == 0)
		return SLOT_SIGIGN;
	if (n == 8 && memcmp(k, "sigblock", 8) == 0)
		return SLOT_SIGBLOCK;
	if (n > sizeof rl - 1 && memcmp(k, rl, sizeof rl - 1) == 0) {
		const char *name = k + sizeof rl - 1;
		size_t nn = n - (sizeof rl - 1);
		for (int i = 0; i < PFI_RLIMIT_COUNT; i++)
			if (strlen(pfi_rlimit_names[i]) == nn &&
			    memcmp(pfi_rlimit_names[i], name, nn) == 0)
				return SLOT_RLIMIT0 + i;
	}
	return -1;
}

static int parse_value(struct pfi_caller_state *st, int slot, const char *v,
                       size_t n)
{
	if (slot == SLOT_UMASK)
		return pfi_umask_decode(v, n, &st->umask);
	if (slot == SLOT_NICE)
		return parse_nice(v, n, &st->nice);
	if (slot == SLOT_SIGIGN)
		return parse_mask(v, n, &st->sigign);
	if (slot == SLOT_SIGBLOCK)
		return parse_mask(v, n, &st->sigblock);
	const char *colon = memchr(v, ':', n);
	if (!colon)
		return -EPROTO;
	size_t sn = (size_t)(colon - v);
	int i = slot - SLOT_RLIMIT0;
	if (parse_limit(v, sn, &st->rlimit[i].soft) < 0 ||
	    parse_limit(colon + 1, n - sn - 1, &st->rlimit[i].hard) < 0)
		return -EPROTO;
	return 0;
}

int pfi_caller_state_decode(const uint8_t *buf, size_t len,
                            struct pfi_caller_state *out)
{
	if (len < 4)
		return -EPROTO;
	uint32_t body = get_be32(buf);
	if (body > PFI_CALLER_STATE_MAX)
		return -EMSGSIZE;
	if (body != len - 4 || body == 0 || buf[len - 1] != '\0')
		return -EPROTO;

	struct pfi_caller_state st;
	unsigned char seen[N_SLOTS] = { 0 };
	memset(&st, 0, sizeof st);
	const char *p = (const char *)buf + 4, *end = (const char *)buf + len;
	while (p < end) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		const char *eq = memchr(p, '=', (size_t)(nul - p));
		if (!eq)
			return -EPROTO;
		int slot = key_slot(p, (size_t)(eq - p));
		if (slot < 0 || seen[slot]++)
			return -EPROTO;
		if (parse_value(&st, slot, eq + 1, (size_t)(nul - eq - 1)) < 0)
			return -EPROTO;
		p = nul + 1;
	}
	for (int i = 0; i < N_SLOTS; i++)
		if (!seen[i])
			return -EPROTO;
	if (!state_valid(&st))
		return -EPROTO;
	*out = st;
	return 0;
}

/* ---- the `signals` extension ---- */

uint8_t pfi_uses_signals(unsigned features)
{
	return features & PFI_FEATURE_SIGNALS ? PFI_USE_SIGNALS : 0;
}

int pfi_signal_byte_encode(int sig, uint8_t *out)
{
	if (sig < 1 || sig > 64)
		return -EINVAL;
	*out = (uint8_t)sig;
	return 0;
}

static int signal_stops(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN ||
	       sig == SIGTTOU;
}

int pfi_call_word_decode(const uint8_t *buf, size_t len,
                         struct pfi_call_word *word)
{
	if (len != PFI_STATUS_LEN)
		return -EPROTO;
	uint32_t v = get_be32(buf);
	/* Tested on the raw value: WIFCONTINUED and WIFSTOPPED look at
	 * the low bits only, and a ptrace event word has high ones. */
	if (v == 0xffff) {
		*word = (struct pfi_call_word){ .event = PFI_CALL_CONTINUED };
		return 0;
	}
	if ((v & 0xff) == 0x7f) {
		int sig = (int)(v >> 8);
		if (v > 0xffff || !signal_stops(sig))
			return -EPROTO;
		*word = (struct pfi_call_word){ .event = PFI_CALL_STOPPED,
						.stop_signal = sig };
		return 0;
	}
	int st;
	if (pfi_status_decode(buf, len, &st) < 0)
		return -EPROTO;
	*word = (struct pfi_call_word){ .event = PFI_CALL_ENDED,
					.wait_status = st };
	return 0;
}

void pfi_stopped_word_encode(int sig, uint8_t out[PFI_STATUS_LEN])
{
	put_be32(out, (uint32_t)sig << 8 | 0x7f);
}

/* ---- the `extra-fds` extension ---- */

uint8_t pfi_uses_extra_fds(unsigned features, size_t n)
{
	return (features & PFI_FEATURE_EXTRA_FDS) && n > 0
	       ? PFI_USE_EXTRA_FDS : 0;
}

static int extra_fds_valid(const int *fds, size_t n)
{
	if (n == 0 || n > PFI_EXTRA_FDS_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (fds[i] < PFI_EXTRA_FD_MIN || (i > 0 && fds[i] <= fds[i - 1]))
			return 0;
	return 1;
}

int pfi_extra_fds_encode(const int *fds, size_t n, uint8_t *buf, size_t cap)
{
	if (!extra_fds_valid(fds, n))
		return -EINVAL;
	size_t need = 4 + 4 * n;
	if (cap < need)
		return -ENOBUFS;
	put_be32(buf, (uint32_t)(4 * n));
	for (size_t i = 0; i < n; i++)
		put_be32(buf + 4 + 4 * i, (uint32_t)fds[i]);
	return (int)need;
}

int pfi_extra_fds_decode(const uint8_t *buf, size_t len,
                         int fds[PFI_EXTRA_FDS_MAX], size_t *n)
{
	if (len < 4)
		return -EPROTO;
	uint32_t body = get_be32(buf);
	if (body == 0 || body % 4 != 0)
		return -EPROTO;
	if (body / 4 > PFI_EXTRA_FDS_MAX)
		return -EMSGSIZE;
	if (body != len - 4)
		return -EPROTO;
	int got[PFI_EXTRA_FDS_MAX];
	size_t count = body / 4;
	for (size_t i = 0; i < count; i++) {
		uint32_t v = get_be32(buf + 4 + 4 * i);
		if (v > INT32_MAX)
			return -EPROTO;
		got[i] = (int)v;
	}
	if (!extra_fds_valid(got, count))
		return -EPROTO;
	memcpy(fds, got, count * sizeof *got);
	*n = count;
	return 0;
}
