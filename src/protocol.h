/* Wire codec for the prefork-interp v1 protocol (docs/design.md section 3).
 *
 * Pure functions over byte buffers: nothing here reads or writes a
 * socket, so every decoder can be unit-tested and fuzzed on plain
 * arrays.  Every length that a peer chooses is checked against a hard
 * limit before it is used. */
#ifndef PFI_PROTOCOL_H
#define PFI_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#define PFI_MAGIC          "PFI\n"
#define PFI_MAGIC_LEN      4
#define PFI_GREETING_HEAD  8          /* magic + 4-byte xdata length */
/* Sent by our server in place of the greeting, to a client of ours,
 * when it cannot take the call now (it could make no process for it):
 * nothing of the call ran, so the client may run the script directly. */
#define PFI_DECLINED       "PFI-\0\0\0\0"
#define PFI_XDATA_MAX      4096       /* largest extension data we accept */
#define PFI_FEATURE_MAX    32         /* longest feature token */
#define PFI_STATUS_LEN     4
/* Bounds on the request.  Linux starts a program with at most 6 MiB of
 * argument and environment strings (3/4 of the 8 MiB stack limit that
 * fs/exec.c assumes), and a request holds only such strings of the
 * client, each once: PFI_REQUEST_MAX is that plus room.  Each string
 * costs the kernel at least 9 bytes (a NUL and a pointer), so no real
 * client has more than about 700,000; a server must turn each into a
 * scripting language's string, 50 to 100 bytes each, so a lower cap,
 * PFI_REQUEST_MAX_STRINGS (entries plus arguments), keeps the memory
 * one exchange can make a server use to a small multiple of the
 * request (SECURITY.md, "Bounded decoding"). */
#define PFI_REQUEST_MAX    ((6u << 20) + (64u << 10))
#define PFI_REQUEST_MAX_STRINGS (1u << 18)

/* Features a server may offer in the greeting's xdata. */
enum pfi_feature {
	/* The server strips interpreter and script from the argument
	 * strings itself, so the client sends "interp, script, args". */
	PFI_FEATURE_FULL_ARGV = 1u << 0,
	/* The server takes the caller's process state (umask, limits,
	 * signal sets, niceness) in a block after the request. */
	PFI_FEATURE_CALLER_STATE = 1u << 1,
	/* The call stays bidirectional after the request: the client
	 * relays signals, the server reports stops and continues. */
	PFI_FEATURE_SIGNALS = 1u << 2,
	/* The server places the caller's open fds above 2 at their
	 * numbers, sent in a block after the request (and caller-state). */
	PFI_FEATURE_EXTRA_FDS = 1u << 3,
};

/* The client's byte of step 2: a bit set of the extensions it uses,
 * each only if the server offered it (docs/protocol.md). */
#define PFI_USE_CALLER_STATE 0x01u

/* The step-2 byte for what the server offered and the client uses. */
uint8_t pfi_step2_encode(unsigned offered);

/* Decode the fixed 8-byte greeting head.  On success stores the xdata
 * length (already checked against PFI_XDATA_MAX) and returns 0.
 * Returns -EPROTO for wrong magic, -EMSGSIZE for an oversized xdata. */
int pfi_greeting_head_decode(const uint8_t *buf, size_t len,
                             uint32_t *xdata_len);

/* Whether an 8-byte greeting head is PFI_DECLINED instead. */
int pfi_greeting_head_declined(const uint8_t *buf, size_t len);

/* Decode xdata: ASCII feature tokens separated by single spaces.
 * Unknown tokens are ignored (a newer server may offer more); known
 * ones set bits in *features.  Returns -EPROTO for bytes outside the
 * token alphabet, empty tokens or tokens longer than PFI_FEATURE_MAX,
 * -EMSGSIZE if len > PFI_XDATA_MAX.  Empty xdata (plain v1) is valid
 * and offers nothing. */
int pfi_xdata_decode(const uint8_t *buf, size_t len, unsigned *features);

/* Encode the xdata that offers `features` (used by tests and fuzzers
 * for round trips).  Returns the length written, or -ENOBUFS. */
int pfi_xdata_encode(unsigned features, uint8_t *buf, size_t cap);

/* Decode the 4-byte big-endian wait status.  Returns -EPROTO for a
 * value that does not fit a non-negative int (chiark-utils' limit) or
 * that is not the status of a process that has terminated. */
int pfi_status_decode(const uint8_t *buf, size_t len, int *wait_status);

/* Encode a wait status (4 bytes, big-endian). */
void pfi_status_encode(int wait_status, uint8_t out[PFI_STATUS_LEN]);

/* The request: 4-byte big-endian length, then NUL-terminated strings:
 * each environment entry NAME=value (entries without '=' are skipped,
 * as a v1 server would reject them), an empty string, then the
 * argument strings.  Returns the total encoded size (length prefix
 * included) in *size, or -E2BIG if it would exceed PFI_REQUEST_MAX bytes
 * or PFI_REQUEST_MAX_STRINGS entries and arguments.  `buf` may be NULL
 * to only measure. */
int pfi_request_encode(const char *const *env, const char *const *args,
                       uint8_t *buf, size_t cap, size_t *size);

/* Callback-based decoder for a request (what the server does); used to
 * check round trips.  Calls on_env for each entry, then on_arg for each
 * argument.  Returns -EPROTO for a malformed body, and for one with more
 * than PFI_REQUEST_MAX_STRINGS entries and arguments. */
struct pfi_request_visitor {
	int (*on_env)(void *ctx, const char *entry, size_t len);
	int (*on_arg)(void *ctx, const char *arg, size_t len);
	void *ctx;
};
int pfi_request_decode(const uint8_t *buf, size_t len,
                       const struct pfi_request_visitor *visitor);

/* ---- caller-state block (docs/protocol.md, "caller-state") ----
 * After the request: a 4-byte big-endian length L <= PFI_CALLER_STATE_MAX,
 * then L bytes of NUL-terminated "key=value" entries, each key exactly
 * once: umask, nice, rlimit.<name> for every name of pfi_rlimit_names,
 * sigign, sigblock. */
#define PFI_CALLER_STATE_MAX 8192
#define PFI_RLIMIT_COUNT     16          /* RLIMIT_CPU .. RLIMIT_RTTIME */
#define PFI_RLIM_INF         UINT64_MAX  /* spelt "inf" on the wire */

struct pfi_caller_state {
	unsigned umask;                  /* 0 .. 0777 */
	int nice;                        /* -20 .. 19 */
	struct {
		uint64_t soft, hard;     /* soft <= hard; PFI_RLIM_INF */
	} rlimit[PFI_RLIMIT_COUNT];      /* indexed by RLIMIT_* number */
	uint64_t sigign;                 /* bit n-1 = signal n ignored */
	uint64_t sigblock;               /* bit n-1 = signal n blocked */
};

/* Wire names of the limits, indexed by their RLIMIT_* number. */
extern const char *const pfi_rlimit_names[PFI_RLIMIT_COUNT];

/* Encodes the block, length prefix included.  Returns the total size,
 * -EINVAL for a state outside the ranges above (nothing is sent that a
 * server would have to refuse), or -ENOBUFS if cap is too small. */
int pfi_caller_state_encode(const struct pfi_caller_state *st, uint8_t *buf,
                            size_t cap);

/* A umask as the block (and /proc/PID/status) writes it: exactly four
 * octal digits, 0000..0777.  Returns 0 or -EPROTO. */
int pfi_umask_decode(const char *s, size_t n, unsigned *out);

/* Decodes a whole block, length prefix included, as strictly as a server
 * must: -EPROTO for a wrong length, an unknown, repeated or missing key,
 * or a value outside its syntax or range; -EMSGSIZE if L exceeds
 * PFI_CALLER_STATE_MAX.  *st is only written on success. */
int pfi_caller_state_decode(const uint8_t *buf, size_t len,
                            struct pfi_caller_state *st);
/* ---- the `signals` extension (docs/protocol.md) ---- */

/* Step 2's byte is the set of extensions the client uses (0x00 in
 * plain v1); each bit only if the server offered that feature. */
#define PFI_USE_SIGNALS  0x02

/* The step-2 bits that `signals` contributes for the offered
 * `features` (0 when the server did not offer it). */
uint8_t pfi_uses_signals(unsigned features);

/* Client -> server: one byte per relayed signal, its number.  Returns
 * -EINVAL for a number outside 1..64. */
int pfi_signal_byte_encode(int sig, uint8_t *out);

/* Server -> client during a call: 4-byte big-endian wait-status words. */
enum pfi_call_event {
	PFI_CALL_ENDED,       /* the final status; the server closes next */
	PFI_CALL_STOPPED,     /* the call stopped with stop_signal */
	PFI_CALL_CONTINUED,   /* the call was continued */
};

struct pfi_call_word {
	enum pfi_call_event event;
	int wait_status;      /* PFI_CALL_ENDED: as pfi_status_decode */
	int stop_signal;      /* PFI_CALL_STOPPED: STOP, TSTP, TTIN or TTOU */
};

/* Decodes one word.  A WIFSTOPPED word must name a signal whose
 * default action stops a process (nothing else can stop the call, and
 * the client stops itself with it) and carry no other bits; 0xffff is
 * "continued"; anything else must pass pfi_status_decode.  Returns
 * -EPROTO otherwise, leaving *word untouched. */
int pfi_call_word_decode(const uint8_t *buf, size_t len,
                         struct pfi_call_word *word);

/* Encodes the word for "stopped by sig" (for tests and fuzzers). */
void pfi_stopped_word_encode(int sig, uint8_t out[PFI_STATUS_LEN]);

/* ---- the `extra-fds` extension (docs/protocol.md) ----
 * After the request and any caller-state block: a 4-byte big-endian
 * length L = 4 * N, then N 4-byte big-endian fd numbers, strictly
 * ascending, each PFI_EXTRA_FD_MIN .. INT32_MAX; then (not the codec's
 * business) N one-byte messages carrying those fds in that order. */
#define PFI_USE_EXTRA_FDS   0x04
#define PFI_EXTRA_FDS_MAX   64          /* fds one call carries at most */
#define PFI_EXTRA_FD_MIN    3
#define PFI_EXTRA_FDS_BLOCK (4 + 4 * PFI_EXTRA_FDS_MAX)
/* Numbers a server holds of its own while it receives a call's fds:
 * ours hold 7 (their own stdio, run directory and log, control and
 * call sockets), and one is left for an fd the script's initialisation
 * keeps.  The call's 3 + N received fds must fit beside them under the
 * caller's hard limit on open files, which the server shares. */
#define PFI_EXTRA_FDS_SERVER_ROOM 8
/* The least hard limit on open files a server works under: below it
 * the numbers a server's setup holds while the script initialises
 * (its socket and pipes, 4) leave the script's own loading short, or
 * the server has none left to make a call's process with. */
#define PFI_SERVER_MIN_NOFILE 16

/* The step-2 bits that `extra-fds` contributes: only when the server
 * offered it and the caller has n > 0 such fds. */
uint8_t pfi_uses_extra_fds(unsigned features, size_t n);

/* Encodes the block, length prefix included.  Returns its size,
 * -EINVAL for n of 0 or above PFI_EXTRA_FDS_MAX or numbers that are
 * not strictly ascending within range, -ENOBUFS if cap is too small. */
int pfi_extra_fds_encode(const int *fds, size_t n, uint8_t *buf, size_t cap);

/* Decodes a whole block, length prefix included, as strictly as a
 * server must: -EPROTO for a prefix of 0 or not a multiple of 4, one
 * that disagrees with len, or a number out of range or order;
 * -EMSGSIZE for a prefix announcing more than PFI_EXTRA_FDS_MAX.
 * fds and *n are only written on success. */
int pfi_extra_fds_decode(const uint8_t *buf, size_t len,
                         int fds[PFI_EXTRA_FDS_MAX], size_t *n);

#endif
