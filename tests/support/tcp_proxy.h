/* SPDX-License-Identifier: BSD-3-Clause */
/* A TCP proxy in a thread of the test, for dropped server connections: it
 * listens on a free loopback port and forwards every connection it accepts
 * to the server at 127.0.0.1:port.  Armed, the n-th chunk a client sends
 * (counted over all connections since arming) is the fault: that
 * connection is closed on both sides, the chunk dropped before the server
 * sees it (or, with `after`, delivered first, so the server acts and only
 * its answer is lost); with `persistent` every later chunk too. */
#ifndef KLEPTO_TEST_TCP_PROXY_H
#define KLEPTO_TEST_TCP_PROXY_H

#include <stdbool.h>

typedef struct kt_proxy kt_proxy;

/* Start a proxy to 127.0.0.1:server_port; NULL when it cannot. */
kt_proxy *kt_proxy_start(int server_port);
/* The port it listens on. */
int kt_proxy_port(const kt_proxy *p);
/* Count chunks from now on; the n-th fails as described (n = 0: only
 * count). */
void kt_proxy_arm(kt_proxy *p, long n, bool persistent, bool after);
void kt_proxy_disarm(kt_proxy *p);
/* With `after`: the client's side closes at once and the chunk reaches the
 * server ms milliseconds later (a server that reads its input late, a
 * packet delayed); 0 (the default): at once. */
void kt_proxy_set_late(kt_proxy *p, int ms);
/* Chunks held back and not yet delivered. */
int kt_proxy_parked(kt_proxy *p);
/* Chunks seen while armed; connections dropped. */
long kt_proxy_count(kt_proxy *p);
long kt_proxy_dropped(kt_proxy *p);
/* Stop the thread, close everything, free. */
void kt_proxy_stop(kt_proxy *p);

#endif
