#include "relay.h"

#include <errno.h>
#include <poll.h>
#include <time.h>
#include <stdint.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "protocol.h"
#include "wire.h"

/* Every signal a caller can send a standalone script reaches the call,
 * not only the usual ones (HUP, INT, TERM, job control, ...): a script
 * may handle SIGPWR, a real-time signal or a SIGSEGV sent with kill(1)
 * too, and a client that died of one left the call to get SIGINT
 * instead.  Not relayed: KILL and STOP (they cannot be caught: KILL
 * ends the client and the server then ends the call; STOP stops the
 * client alone, which the server cannot see), CHLD (the client's own
 * children), and the two real-time signals glibc keeps for itself
 * (sigaddset refuses them).  Faults of the client itself (SEGV, BUS,
 * FPE, ILL, TRAP, SYS) are forced on it by the kernel even while
 * blocked, and its writes to the socket use MSG_NOSIGNAL: what waits
 * here was sent to it. */
static int relayable(int sig)
{
	return sig != SIGKILL && sig != SIGSTOP && sig != SIGCHLD;
}

/* Every one of them is relayed, also those the caller left ignored: a
 * script may handle a signal its caller ignored ($SIG{INT} = sub {...}
 * overrides an inherited SIG_IGN), and one that does not keeps it
 * ignored, as the executor gets the caller's ignored set (caller-state).
 * Here an ignored signal stays ignored (the client must not die of it)
 * but blocked: the kernel discards an ignored signal only while it is
 * not blocked, so a blocked one waits to be read like the others. */
int pfi_relay_prepare(struct pfi_relay *r, struct problem *p)
{
	sigemptyset(&r->relayed);
	for (int sig = 1; sig <= SIGRTMAX; sig++)
		if (relayable(sig))
			sigaddset(&r->relayed, sig);  /* fails for glibc's own */
	if (sigprocmask(SIG_BLOCK, &r->relayed, NULL) < 0)
		return problem_errno(p, errno, "cannot block the signals to "
				     "relay");
	r->sigfd = signalfd(-1, &r->relayed, SFD_NONBLOCK | SFD_CLOEXEC);
	if (r->sigfd < 0)
		return problem_errno(p, errno, "cannot read signals "
				     "(signalfd)");
	return 0;
}

/* Reads every signal that is waiting and sends each to the server.
 * Sets *got_cont if SIGCONT was among them.  A server that has gone
 * is not an error here: reading its answer says what happened. */
static int relay_pending(struct pfi_relay *r, int fd, int *got_cont,
                         struct problem *p)
{
	/* Taken with sigtimedwait, not read(2) from the signalfd: the
	 * filter lets read(2) reach the call socket only, and the signalfd
	 * serves to wake poll(2). */
	static const struct timespec now = { 0, 0 };
	siginfo_t info;
	for (;;) {
		int sig = sigtimedwait(&r->relayed, &info, &now);
		if (sig < 0 && errno == EINTR)
			continue;
		if (sig < 0 && errno == EAGAIN)
			return 0;
		if (sig < 0)
			return problem_errno(p, errno, "reading signals");
		if (sig == SIGCONT && got_cont)
			*got_cont = 1;
		uint8_t byte;
		if (pfi_signal_byte_encode(sig, &byte) < 0)
			continue;
		int w = pfi_wire_write_all(fd, &byte, 1, p);
		if (w < 0 && w != -EPIPE && w != -ECONNRESET)
			return w;
	}
}

/* The shell learns that a job stopped only from its own child, the
 * client: so the client stops too, with the call's signal.  That
 * signal is blocked here (we relay it), so it is sent, then let
 * through once.  SIGSTOP cannot be blocked and stops at once; a stop
 * signal the caller ignores would not stop us, so SIGSTOP stands in. */
static int stop_like_the_call(struct pfi_relay *r, int fd, int sig,
                              struct problem *p)
{
	struct sigaction now;
	if (sigaction(sig, NULL, &now) < 0 || now.sa_handler == SIG_IGN)
		sig = SIGSTOP;
	sigset_t just;
	sigemptyset(&just);
	sigaddset(&just, sig);
	kill(getpid(), sig);
	sigprocmask(SIG_UNBLOCK, &just, NULL);
	sigprocmask(SIG_BLOCK, &just, NULL);

	/* Only SIGCONT resumes a stopped process, and we hold SIGCONT
	 * blocked (ignored by the caller or not), so having stopped leaves
	 * one waiting.  None means the kernel discarded our stop (an
	 * orphaned process group, as a standalone script's would be): the
	 * call goes on too. */
	int got_cont = 0, rr;
	if ((rr = relay_pending(r, fd, &got_cont, p)) < 0)
		return rr;
	if (!got_cont) {
		uint8_t cont;
		pfi_signal_byte_encode(SIGCONT, &cont);
		int w = pfi_wire_write_all(fd, &cont, 1, p);
		if (w < 0 && w != -EPIPE && w != -ECONNRESET)
			return w;
	}
	return 0;
}

int pfi_status_cut_short(size_t have, struct problem *p)
{
	/* Nothing at all: the server is gone (its reaping of the call's
	 * process with it), and the call may well run on without us. */
	if (have == 0)
		return problem_fail(p, EPROTO, "the server ended before "
				    "reporting the call's exit status (killed? "
				    "its messages may say); the call may still "
				    "be running");
	return problem_fail(p, EPROTO, "server hung up in the middle of "
			    "reporting the exit status (%zu of %d bytes)",
			    have, PFI_STATUS_LEN);
}

int pfi_relay_run(struct pfi_relay *r, int fd, int *wait_status,
                  struct problem *p)
{
	uint8_t buf[PFI_STATUS_LEN];
	size_t have = 0;
	int rr;

	for (;;) {
		struct pollfd fds[2] = { { .fd = fd, .events = POLLIN },
					 { .fd = r->sigfd, .events = POLLIN } };
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return problem_errno(p, errno, "poll");
		}
		if (fds[1].revents && (rr = relay_pending(r, fd, NULL, p)) < 0)
			return rr;
		if (!fds[0].revents)
			continue;

		ssize_t n = read(fd, buf + have, sizeof buf - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != ECONNRESET)
			return problem_errno(p, errno, "reading from the server");
		if (n <= 0)
			return pfi_status_cut_short(have, p);
		have += (size_t)n;
		if (have < sizeof buf)
			continue;
		have = 0;

		struct pfi_call_word word;
		if (pfi_call_word_decode(buf, sizeof buf, &word) < 0)
			return problem_fail(p, EPROTO, "server reported an "
					    "impossible wait status");
		if (word.event == PFI_CALL_ENDED) {
			*wait_status = word.wait_status;
			return 0;
		}
		if (word.event == PFI_CALL_STOPPED &&
		    (rr = stop_like_the_call(r, fd, word.stop_signal, p)) < 0)
			return rr;
	}
}
