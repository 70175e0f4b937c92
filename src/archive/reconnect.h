/* SPDX-License-Identifier: BSD-3-Clause */
/* The reconnect step of the server backends (postgres, redis), see
 * reconnect.c. */
#ifndef KLEPTO_ARCHIVE_RECONNECT_H
#define KLEPTO_ARCHIVE_RECONNECT_H

/* After a lost connection: calls reconnect(state); when that fails too,
 * the message keeps the first failure's words ("FIRST; reconnecting:
 * SECOND", KL_EBACKEND).  Returns 0 or that error. */
int kl__archive_reconnect(int (*reconnect)(void *state), void *state);

#endif
