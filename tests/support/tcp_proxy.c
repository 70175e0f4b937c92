/* SPDX-License-Identifier: BSD-3-Clause */
/* See tcp_proxy.h.  Hand-written: a fault at the n-th chunk of a
 * connection, chosen by the test while it runs, is not what a packaged
 * proxy (socat, toxiproxy) offers. */
#define _GNU_SOURCE
#include "tcp_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { MAXC = 64 };

struct kt_proxy {
    int lfd, server_port, port;
    int wake[2]; /* a byte here stops the thread */
    int cli[MAXC], srv[MAXC];
    pthread_t thread;
    pthread_mutex_t mu;
    bool armed, persistent, after;
    long fail_n, count, dropped;
    int late_ms;
    /* chunks held back for late delivery: the server side of a dropped
     * connection, its chunk, and when to send it */
    struct parked {
        int fd;
        char *buf;
        size_t n;
        struct timespec at;
    } park[MAXC];
    int nparked;
};

static void drop(kt_proxy *p, int i)
{
    close(p->cli[i]);
    close(p->srv[i]);
    p->cli[i] = p->srv[i] = -1;
}

static int connect_server(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static bool send_all(int fd, const char *b, size_t n)
{
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        b += w;
        n -= (size_t)w;
    }
    return true;
}

static long ms_until(const struct timespec *at)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (at->tv_sec - now.tv_sec) * 1000 + (at->tv_nsec - now.tv_nsec) / 1000000;
    return ms < 0 ? 0 : ms;
}

/* Connection i dropped with its chunk held back: the client side closes
 * now, the server gets the chunk p->late_ms later (then its side closes).
 * Without room to park, delivered now. */
static void park_chunk(kt_proxy *p, int i, const char *b, size_t n)
{
    pthread_mutex_lock(&p->mu);
    int late_ms = p->late_ms;
    pthread_mutex_unlock(&p->mu);
    char *copy = p->nparked < MAXC ? malloc(n) : NULL;
    if (!copy) {
        send_all(p->srv[i], b, n);
        drop(p, i);
        return;
    }
    memcpy(copy, b, n);
    struct parked *k = &p->park[p->nparked];
    k->fd = p->srv[i];
    k->buf = copy;
    k->n = n;
    clock_gettime(CLOCK_MONOTONIC, &k->at);
    k->at.tv_sec += late_ms / 1000;
    k->at.tv_nsec += (long)(late_ms % 1000) * 1000000;
    if (k->at.tv_nsec >= 1000000000) {
        k->at.tv_sec++;
        k->at.tv_nsec -= 1000000000;
    }
    close(p->cli[i]);
    p->cli[i] = p->srv[i] = -1;
    pthread_mutex_lock(&p->mu);
    p->nparked++;
    pthread_mutex_unlock(&p->mu);
}

/* Sends the parked chunks that are due; the poll timeout until the next. */
static int deliver_due(kt_proxy *p)
{
    int timeout = -1;
    for (int j = 0; j < p->nparked;) {
        struct parked *k = &p->park[j];
        long ms = ms_until(&k->at);
        if (ms > 0) {
            timeout = timeout < 0 || ms < timeout ? (int)ms : timeout;
            j++;
            continue;
        }
        send_all(k->fd, k->buf, k->n);
        close(k->fd);
        free(k->buf);
        pthread_mutex_lock(&p->mu);
        *k = p->park[--p->nparked];
        pthread_mutex_unlock(&p->mu);
    }
    return timeout;
}

/* A chunk from client i: 0 forward it, 1 drop before, 2 drop after, 3
 * drop and deliver late. */
static int judge(kt_proxy *p)
{
    pthread_mutex_lock(&p->mu);
    int verdict = 0;
    if (p->armed) {
        long k = ++p->count;
        if (p->fail_n > 0 && (k == p->fail_n || (p->persistent && k > p->fail_n))) {
            verdict = !p->after ? 1 : p->late_ms > 0 ? 3 : 2;
            p->dropped++;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return verdict;
}

static void *run(void *arg)
{
    kt_proxy *p = arg;
    static char buf[1 << 16];
    for (;;) {
        struct pollfd fds[2 + 2 * MAXC];
        int idx[2 + 2 * MAXC], nf = 0;
        fds[nf] = (struct pollfd){.fd = p->wake[0], .events = POLLIN};
        idx[nf++] = -1;
        fds[nf] = (struct pollfd){.fd = p->lfd, .events = POLLIN};
        idx[nf++] = -2;
        for (int i = 0; i < MAXC; i++) {
            if (p->cli[i] < 0)
                continue;
            fds[nf] = (struct pollfd){.fd = p->cli[i], .events = POLLIN};
            idx[nf++] = i;
            fds[nf] = (struct pollfd){.fd = p->srv[i], .events = POLLIN};
            idx[nf++] = MAXC + i;
        }
        if (poll(fds, (nfds_t)nf, deliver_due(p)) < 0) {
            if (errno == EINTR)
                continue;
            return NULL;
        }
        if (fds[0].revents)
            return NULL;
        if (fds[1].revents & POLLIN) {
            int c = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
            int s = c >= 0 ? connect_server(p->server_port) : -1;
            int slot = -1;
            for (int i = 0; i < MAXC && slot < 0; i++)
                if (p->cli[i] < 0)
                    slot = i;
            if (c >= 0 && s >= 0 && slot >= 0) {
                p->cli[slot] = c;
                p->srv[slot] = s;
            } else {
                if (c >= 0)
                    close(c);
                if (s >= 0)
                    close(s);
            }
        }
        for (int j = 2; j < nf; j++) {
            if (!fds[j].revents)
                continue;
            int i = idx[j] % MAXC;
            bool from_client = idx[j] < MAXC;
            if (p->cli[i] < 0)
                continue; /* dropped while handling its other side */
            int from = from_client ? p->cli[i] : p->srv[i], to = from_client ? p->srv[i] : p->cli[i];
            ssize_t n = recv(from, buf, sizeof buf, 0);
            if (n <= 0) {
                drop(p, i);
                continue;
            }
            int verdict = from_client ? judge(p) : 0;
            /* after: the server may or may not act before it sees the
             * connection close; the sweep's model allows both */
            if (verdict == 3)
                park_chunk(p, i, buf, (size_t)n);
            else if (verdict == 1 || !send_all(to, buf, (size_t)n) || verdict == 2)
                drop(p, i);
        }
    }
}

kt_proxy *kt_proxy_start(int server_port)
{
    kt_proxy *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->server_port = server_port;
    for (int i = 0; i < MAXC; i++)
        p->cli[i] = p->srv[i] = -1;
    pthread_mutex_init(&p->mu, NULL);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(p->lfd, 16) < 0 || getsockname(p->lfd, (struct sockaddr *)&a, &len) < 0 ||
        pipe(p->wake) < 0) {
        if (p->lfd >= 0)
            close(p->lfd);
        free(p);
        return NULL;
    }
    p->port = ntohs(a.sin_port);
    if (pthread_create(&p->thread, NULL, run, p)) {
        close(p->lfd);
        close(p->wake[0]);
        close(p->wake[1]);
        free(p);
        return NULL;
    }
    return p;
}

int kt_proxy_port(const kt_proxy *p)
{
    return p->port;
}

void kt_proxy_set_late(kt_proxy *p, int ms)
{
    pthread_mutex_lock(&p->mu);
    p->late_ms = ms;
    pthread_mutex_unlock(&p->mu);
}

int kt_proxy_parked(kt_proxy *p)
{
    pthread_mutex_lock(&p->mu);
    int n = p->nparked;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void kt_proxy_arm(kt_proxy *p, long n, bool persistent, bool after)
{
    pthread_mutex_lock(&p->mu);
    p->armed = true;
    p->fail_n = n;
    p->persistent = persistent;
    p->after = after;
    p->count = p->dropped = 0;
    pthread_mutex_unlock(&p->mu);
}

void kt_proxy_disarm(kt_proxy *p)
{
    pthread_mutex_lock(&p->mu);
    p->armed = false;
    pthread_mutex_unlock(&p->mu);
}

long kt_proxy_count(kt_proxy *p)
{
    pthread_mutex_lock(&p->mu);
    long n = p->count;
    pthread_mutex_unlock(&p->mu);
    return n;
}

long kt_proxy_dropped(kt_proxy *p)
{
    pthread_mutex_lock(&p->mu);
    long n = p->dropped;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void kt_proxy_stop(kt_proxy *p)
{
    if (!p)
        return;
    (void)!write(p->wake[1], "x", 1);
    pthread_join(p->thread, NULL);
    for (int i = 0; i < MAXC; i++)
        if (p->cli[i] >= 0)
            drop(p, i);
    for (int j = 0; j < p->nparked; j++) {
        close(p->park[j].fd);
        free(p->park[j].buf);
    }
    close(p->lfd);
    close(p->wake[0]);
    close(p->wake[1]);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
