/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A user-defined archive backend, written against the plug-in interface
 * klepto/sys/archive_backend.h only, registered under the scheme "shelf",
 * then used by URL like any built-in archive: directly and as a memo's
 * archive.
 *
 *   ./custom_backend
 *
 * "shelf:" is a small in-process store of at most `capacity` entries
 * (?capacity=N, default 64), shared by every handle of the process.  A
 * real backend would talk to a file, a device or a service; the shape is
 * the same: fill a kl_archive_backend with the required slots (open,
 * close, get, put, del, count, iter_new, iter_next, iter_free; the core
 * falls back for the optional ones), call kl_archive_register once.
 */
/* pthread mutexes are POSIX, not ISO C. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klepto.h"
#include "klepto/sys/archive_backend.h"

/* ---- the store ---------------------------------------------------------- */

#define SHELF_MAX 1024

typedef struct shelf_entry {
    kl_buf key, val;
} shelf_entry;

/* One store for the process.  Several handles (on several threads) may
 * use it at once: the core serialises the calls of one handle only, so
 * state shared between handles is ours to lock. */
static shelf_entry shelf[SHELF_MAX];
static size_t shelf_len;
static pthread_mutex_t shelf_lock = PTHREAD_MUTEX_INITIALIZER;

/* A handle's state: what open() read from the URL. */
typedef struct shelf_handle {
    size_t capacity;
} shelf_handle;

/* Index of key, or shelf_len when absent (lock held). */
static size_t find(const void *key, size_t klen)
{
    size_t i = 0;
    while (i < shelf_len &&
           !(shelf[i].key.len == klen && memcmp(shelf[i].key.data, key, klen) == 0))
        i++;
    return i;
}

/* ---- the slots ------------------------------------------------------------ */
/* Each returns 0 or a negative KL_E* code after setting the message with
 * kl_seterr (sys/errors.h); the core passes both to the caller. */

static int shelf_open(void **state, const kl_url *url, const kl_archive_opts *opts)
{
    (void)opts; /* create and read_only: the core refuses writes to read-only handles */
    uint64_t capacity = 64;
    /* Reads ?capacity=, marks it used, writes the message for a bad value.
     * An option nobody asked for is refused by the core. */
    int rc = kl_url_uint(url, "capacity", 1, SHELF_MAX, &capacity);
    if (rc)
        return rc;
    if (*url->rest) /* the part after "shelf:" and before "?" */
        return kl_seterr(KL_EINVAL, "%s: shelf: takes no path", kl_url_shown(url));
    shelf_handle *h = malloc(sizeof *h);
    if (!h)
        return kl_seterr(KL_ENOMEM, "%s: out of memory", kl_url_shown(url));
    h->capacity = (size_t)capacity;
    *state = h;
    return 0;
}

static int shelf_close(void *state)
{
    free(state); /* the entries stay on the shelf for the next handle */
    return 0;
}

static int shelf_get(void *state, const void *key, size_t klen, kl_buf *val)
{
    (void)state;
    pthread_mutex_lock(&shelf_lock);
    size_t i = find(key, klen);
    int rc;
    if (i == shelf_len) {
        rc = kl_seterr(KL_ENOTFOUND, "shelf: key not found");
    } else {
        kl_buf_reset(val); /* the value replaces val's contents */
        rc = kl_buf_append(val, shelf[i].val.data, shelf[i].val.len);
    }
    pthread_mutex_unlock(&shelf_lock);
    return rc;
}

static int shelf_put(void *state, const void *key, size_t klen, const void *val, size_t vlen)
{
    shelf_handle *h = state;
    pthread_mutex_lock(&shelf_lock);
    size_t i = find(key, klen);
    int rc = 0;
    if (i == shelf_len && shelf_len >= h->capacity) {
        rc = kl_seterr(KL_ETOOBIG, "shelf: full (%zu entries)", shelf_len);
    } else {
        /* Write the new value aside first: a failed put leaves the old one. */
        kl_buf fresh = KL_BUF_INIT;
        rc = kl_buf_append(&fresh, val, vlen);
        if (rc == 0 && i == shelf_len) {
            shelf[i].key = (kl_buf)KL_BUF_INIT;
            rc = kl_buf_append(&shelf[i].key, key, klen);
            if (rc == 0)
                shelf_len++;
            else
                kl_buf_free(&shelf[i].key);
        }
        if (rc == 0) {
            kl_buf_free(&shelf[i].val);
            shelf[i].val = fresh;
        } else {
            kl_buf_free(&fresh);
            kl_seterr(rc, "shelf: out of memory");
        }
    }
    pthread_mutex_unlock(&shelf_lock);
    return rc;
}

static int shelf_del(void *state, const void *key, size_t klen)
{
    (void)state;
    pthread_mutex_lock(&shelf_lock);
    size_t i = find(key, klen);
    int rc = 0;
    if (i == shelf_len) {
        rc = kl_seterr(KL_ENOTFOUND, "shelf: key not found");
    } else {
        kl_buf_free(&shelf[i].key);
        kl_buf_free(&shelf[i].val);
        shelf[i] = shelf[--shelf_len]; /* the last entry fills the hole */
    }
    pthread_mutex_unlock(&shelf_lock);
    return rc;
}

static int shelf_count(void *state, size_t *out)
{
    (void)state;
    pthread_mutex_lock(&shelf_lock);
    *out = shelf_len;
    pthread_mutex_unlock(&shelf_lock);
    return 0;
}

/* Iteration: the cursor is the index of the next entry.  Entries added
 * or removed meanwhile may or may not be seen (as for every archive). */
static int shelf_iter_new(void *state, void **cursor)
{
    (void)state;
    size_t *next = calloc(1, sizeof *next);
    if (!next)
        return kl_seterr(KL_ENOMEM, "shelf: out of memory");
    *cursor = next;
    return 0;
}

/* 1 with the next entry, 0 at the end, or an error. */
static int shelf_iter_next(void *cursor, kl_buf *key, kl_buf *val)
{
    size_t *next = cursor;
    int rc = 1;
    pthread_mutex_lock(&shelf_lock);
    if (*next >= shelf_len) {
        rc = 0;
    } else {
        kl_buf_reset(key);
        if (kl_buf_append(key, shelf[*next].key.data, shelf[*next].key.len) != 0)
            rc = kl_seterr(KL_ENOMEM, "shelf: out of memory");
        if (rc == 1 && val) { /* val is NULL when only keys are wanted */
            kl_buf_reset(val);
            if (kl_buf_append(val, shelf[*next].val.data, shelf[*next].val.len) != 0)
                rc = kl_seterr(KL_ENOMEM, "shelf: out of memory");
        }
        (*next)++;
    }
    pthread_mutex_unlock(&shelf_lock);
    return rc;
}

static void shelf_iter_free(void *cursor)
{
    free(cursor);
}

/* The library keeps a pointer to this struct: it must live as long as the
 * program uses the library (a static const does). */
static const kl_archive_backend shelf_backend = {
    .version = KL_BACKEND_VERSION, /* the header this backend was built with */
    .scheme = "shelf",
    .open = shelf_open,
    .close = shelf_close,
    .get = shelf_get,
    .put = shelf_put,
    .del = shelf_del,
    .count = shelf_count,
    .iter_new = shelf_iter_new,
    .iter_next = shelf_iter_next,
    .iter_free = shelf_iter_free,
};

/* ---- using it ------------------------------------------------------------- */

KL_MEMOIZE(long, triangle, (long, n))
{
    return n * (n + 1) / 2;
}

static void report(const char *when)
{
    kl_memo_info info;
    kl_memo_info_get(triangle_memo(), &info);
    printf("%s: computed=%llu loaded=%llu errors=%llu\n", when, (unsigned long long)info.miss,
           (unsigned long long)info.load, (unsigned long long)info.errors);
}

static void try_open(const char *url)
{
    kl_archive *ar;
    int rc = kl_archive_open(&ar, url, NULL);
    if (rc == 0) {
        printf("open %s: ok\n", url);
        kl_archive_close(ar);
    } else {
        printf("open %s: %s: %s\n", url, kl_strerror(rc), kl_errmsg());
    }
}

int main(void)
{
    if (kl_archive_register(&shelf_backend) != 0) {
        fprintf(stderr, "custom_backend: %s\n", kl_errmsg());
        return 1;
    }
    /* Options are checked by the backend's open() and by the core. */
    try_open("shelf:?capacity=0");
    try_open("shelf:?colour=red");

    /* As a memo's archive: results are written through to the shelf... */
    kl_memo_opts opts = KL_MEMO_OPTS_INIT;
    opts.archive = "shelf:?capacity=100";
    if (kl_memo_configure(triangle_memo(), &opts) != 0) {
        fprintf(stderr, "custom_backend: %s\n", kl_errmsg());
        return 1;
    }
    long sum = 0;
    for (long n = 1; n <= 10; n++)
        sum += triangle(n);
    report("first pass");

    /* ...and found there once memory is emptied (configuring again empties
     * it and reopens the archive). */
    if (kl_memo_configure(triangle_memo(), &opts) != 0) {
        fprintf(stderr, "custom_backend: %s\n", kl_errmsg());
        return 1;
    }
    for (long n = 1; n <= 10; n++)
        sum += triangle(n);
    report("second pass");
    printf("sum of triangle(1..10), twice = %ld\n", sum);
    if (kl_memo_free(triangle_memo()) != 0)
        return 1;

    /* Directly, like any archive: a full shelf refuses new keys. */
    kl_archive *ar;
    if (kl_archive_open(&ar, "shelf:?capacity=10", NULL) != 0) {
        fprintf(stderr, "custom_backend: %s\n", kl_errmsg());
        return 1;
    }
    size_t count = 0;
    kl_archive_count(ar, &count);
    kl_buf key = KL_BUF_INIT, val = KL_BUF_INIT;
    kl_value k = kl_value_cstr_ref("one more"), v = kl_value_int(1);
    int rc = kl_encode(&key, &k, 0);
    if (rc == 0)
        rc = kl_encode(&val, &v, 0);
    if (rc == 0)
        rc = kl_archive_put(ar, key.data, key.len, val.data, val.len);
    printf("shelf holds %zu entries; put into a shelf of capacity 10: %s: %s\n", count,
           kl_strerror(rc), kl_errmsg());
    kl_buf_free(&key);
    kl_buf_free(&val);
    kl_archive_close(ar);

    /* The shelf's memory is released at exit with the process. */
    return rc == KL_ETOOBIG ? 0 : 1;
}
