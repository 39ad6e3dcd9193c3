/* /proc/self/status, read once at start-up: one read gives the caller's
 * umask, signal sets and credentials, where asking the kernel one
 * signal and one capability at a time would cost some 150 system calls
 * on every call. */
#ifndef PFI_PROCSTATUS_H
#define PFI_PROCSTATUS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct pfi_proc_status {
	char text[8192];
	size_t len;                    /* 0: not available (no /proc) */
};

/* Reads up to size-1 bytes of a (/proc) file into buf, NUL-terminated
 * (empty on failure); returns the length, or -1 if it cannot be read.
 * A file that fills the buffer may have been cut short. */
ssize_t pfi_proc_read(const char *path, char *buf, size_t size);

/* Reads /proc/self/status; on any failure leaves len 0, and callers
 * fall back to asking the kernel directly. */
void pfi_proc_status_read(struct pfi_proc_status *ps);

/* The value of field `name` (up to the end of its line, leading blanks
 * skipped) and its length, or NULL if absent. */
const char *pfi_proc_status_field(const struct pfi_proc_status *ps,
                                  const char *name, size_t *len);

/* A field of exactly 16 hex digits (SigIgn, CapEff, ...). */
int pfi_proc_status_hex64(const struct pfi_proc_status *ps, const char *name,
                          uint64_t *out);

#endif
