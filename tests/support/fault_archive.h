/* SPDX-License-Identifier: BSD-3-Clause */
/* fault: — an archive that wraps any other archive and makes one of its
 * operations fail, for tests of what a failure leaves behind (the pattern
 * of SQLite's test VFS).  It is an ordinary plug-in, registered through
 * the public kl_archive_register.
 *
 *   fault:OP=N[+][,ERR]?url=INNER
 *
 * INNER is the wrapped archive's URL, percent-encoded (kt_fault_url does
 * that).  The N-th call (counted from 1, per handle) of operation OP fails
 * with KL_ERR instead of reaching INNER, and with "+" every call from the
 * N-th on does.  The message says the failure was injected and names OP,
 * the call number and INNER (password masked).  OP is one of open, close,
 * get, put, del, contains, count, stat, clear, sync, drop, put_many,
 * get_many, del_many, describe, iter_new, iter_next, get_view, verify,
 * compact (open only as open=1); ERR one of the KL_E* names without "KL_" (ENOSPC, EIO,
 * ECORRUPT, EBACKEND, EPERM, ENOMEM, ...), EIO when left out.  A failing
 * close still closes INNER; a failing open opens nothing.  Calls that do
 * not fail go to INNER through the kl_archive_* functions, so INNER's own
 * fallbacks apply there and batch calls count once.
 *
 * Thread-safety: as any archive handle (the core serialises its calls). */
#ifndef KLEPTO_TEST_FAULT_ARCHIVE_H
#define KLEPTO_TEST_FAULT_ARCHIVE_H

/* Registers the fault: scheme (once per process; later calls do
 * nothing).  0 or the kl_archive_register error. */
int kt_fault_register(void);

/* "fault:SPEC?url=INNER-percent-encoded", heap (free()); NULL when out of
 * memory.  Registers the scheme too. */
char *kt_fault_url(const char *spec, const char *inner);

#endif
