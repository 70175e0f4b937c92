/* SPDX-License-Identifier: BSD-3-Clause */
/* See sweep_workload.h. */
#define _GNU_SOURCE
#include "sweep_workload.h"
#include "testutil.h"

#include "klepto/archive.h"
#include "klepto/cached.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long kt_sweep_bad_runs;

#define KT_SWEEP_BAD(...)                                                                  \
    do {                                                                                   \
        if (kt_sweep_bad_runs++ < 400) {                                                   \
            print_message("FAULT SWEEP: " __VA_ARGS__);                                    \
            print_message("\n");                                                           \
        }                                                                                  \
    } while (0)

void kt_sweep_run_init(kt_sweep_run *r, const char *path, int err, bool own_words, bool stop)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->err = err;
    r->own_words = own_words;
    r->stop = stop;
    for (int k = 0; k < KT_SWEEP_NK; k++)
        kt_sweep_known(&r->m, k, KT_SWEEP_ABSENT);
}



void kt_sweep_known(kt_sweep_model *m, int k, int version)
{
    m->ok[k][0] = version;
    m->nok[k] = 1;
}
/* A write of k to `version` failed: it may or may not have happened. */
void kt_sweep_either(kt_sweep_model *m, int k, int version)
{
    for (int i = 0; i < m->nok[k]; i++)
        if (m->ok[k][i] == version)
            return;
    if (m->nok[k] < 8)
        m->ok[k][m->nok[k]++] = version;
}

static size_t key_of(int k, uint8_t *out)
{
    out[0] = 0x18;
    out[1] = (uint8_t)k;
    return 2;
}
/* A CBOR text "k<k>v<version>" padded with '.' to a length that varies. */
static size_t value_of(int k, int version, uint8_t *out)
{
    char txt[200];
    int n = snprintf(txt, sizeof txt, "k%dv%d", k, version);
    int len = 20 + (k * 7 + version * 13) % 150;
    memset(txt + n, '.', (size_t)(len - n));
    out[0] = 0x78;
    out[1] = (uint8_t)len;
    memcpy(out + 2, txt, (size_t)len);
    return (size_t)len + 2;
}


/* The message says what was being done (the words our messages use),
 * outside its mentions of the archive's path. */
static bool names_an_operation(const char *msg, const char *path)
{
    static const char *const verbs[] = {
        "read",   "write",   "fsync",   "sync",  "rename",  "create", "open",   "link",  "folder",
        "copy",   "compact", "stat",    "lock",  "cut",     "mode",   "list",   "map",   "put",
        "delete", "remove",  "flush",   "close", "commit",  "insert", "enable", "begin", "update",
        "select", "set",     "prepare", "send",  "connect", "query",  "lookup", "drop",  "check"};
    char text[2048];
    snprintf(text, sizeof text, "%s", msg);
    for (char *at = strstr(text, path); at; at = strstr(at, path))
        memset(at, ' ', strlen(path));
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strstr(text, verbs[i]))
            return true;
    return false;
}

static bool check_rc(kt_sweep_run *r, int rc, const char *what)
{
    if (rc == 0)
        return true;
    const char *msg = kl_errmsg();
    if (rc > 0)
        KT_SWEEP_BAD("%s: %s returned %d", r->path, what, rc);
    else if (rc == KL_ENOTFOUND)
        /* callers read it as "no such key": a failed write must not say it */
        KT_SWEEP_BAD("%s: %s failed with 'not found': %s", r->path, what, msg);
    else if (!strstr(msg, r->path))
        KT_SWEEP_BAD("%s: %s failed (%s) with a message that does not name the archive: %s",
                 r->path, what, kl_strerror(rc), msg);
    else if (r->own_words && !strstr(msg, strerror(r->err)))
        KT_SWEEP_BAD("%s: %s failed (%s) with a message that does not say what the system "
                 "answered (%s): %s",
                 r->path, what, kl_strerror(rc), strerror(r->err), msg);
    else if ((r->own_words || r->op_words) && !names_an_operation(msg, r->path))
        KT_SWEEP_BAD("%s: %s failed (%s) with a message that names no operation: %s", r->path,
                     what, kl_strerror(rc), msg);
    if (!r->failures++)
        snprintf(r->first, sizeof r->first, "%s: %s", what, msg);
    return false;
}

static void put_one(kt_sweep_run *r, kl_archive *ar, int k, int version)
{
    uint8_t key[4], val[200];
    size_t kl = key_of(k, key), vl = value_of(k, version, val);
    if (check_rc(r, kl_archive_put(ar, key, kl, val, vl), "put"))
        kt_sweep_known(&r->m, k, version);
    else
        kt_sweep_either(&r->m, k, version);
}

static void put_batch(kt_sweep_run *r, kl_archive *ar, int from, int to, int version)
{
    uint8_t keys[KT_SWEEP_NK][4], vals[KT_SWEEP_NK][200];
    const void *kp[KT_SWEEP_NK], *vp[KT_SWEEP_NK];
    size_t kls[KT_SWEEP_NK], vls[KT_SWEEP_NK];
    int n = 0;
    for (int k = from; k < to; k++, n++) {
        kls[n] = key_of(k, keys[n]);
        vls[n] = value_of(k, version, vals[n]);
        kp[n] = keys[n];
        vp[n] = vals[n];
    }
    bool ok = check_rc(r, kl_archive_put_many(ar, (size_t)n, kp, kls, vp, vls), "put_many");
    for (int k = from; k < to; k++)
        (ok ? kt_sweep_known : kt_sweep_either)(&r->m, k, version);
}

static void del_one(kt_sweep_run *r, kl_archive *ar, int k)
{
    uint8_t key[4];
    size_t kl = key_of(k, key);
    int rc = kl_archive_del(ar, key, kl);
    if (rc == KL_ENOTFOUND)
        rc = 0;
    (check_rc(r, rc, "del") ? kt_sweep_known : kt_sweep_either)(&r->m, k, KT_SWEEP_ABSENT);
}

static void del_batch(kt_sweep_run *r, kl_archive *ar, int from, int to)
{
    uint8_t keys[KT_SWEEP_NK][4];
    const void *kp[KT_SWEEP_NK];
    size_t kls[KT_SWEEP_NK];
    int n = 0;
    for (int k = from; k < to; k++, n++) {
        kls[n] = key_of(k, keys[n]);
        kp[n] = keys[n];
    }
    size_t deleted = 0;
    bool ok = check_rc(r, kl_archive_del_many(ar, (size_t)n, kp, kls, &deleted), "del_many");
    for (int k = from; k < to; k++)
        (ok ? kt_sweep_known : kt_sweep_either)(&r->m, k, KT_SWEEP_ABSENT);
}

/* The cached front over the archive: puts kept in memory, then dumped. */
static void cached_dump(kt_sweep_run *r, const char *url)
{
    char *curl = kt_url_with(url, "cached=true");
    kl_archive *c = NULL;
    if (check_rc(r, kl_archive_open(&c, curl, NULL), "open cached")) {
        uint8_t key[4], val[200];
        for (int k = 24; k < KT_SWEEP_NK; k++) {
            size_t kl = key_of(k, key), vl = value_of(k, 5, val);
            KT_OK(kl_archive_put(c, key, kl, val, vl)); /* memory only */
        }
        size_t dumped = 0;
        bool ok = check_rc(r, kl_cached_dump(c, 0, NULL, NULL, &dumped), "dump");
        for (int k = 24; k < KT_SWEEP_NK; k++)
            (ok ? kt_sweep_known : kt_sweep_either)(&r->m, k, 5);
        /* close dumps what is left: a failure there is reported too */
        check_rc(r, kl_archive_close(c), "close cached");
    }
    free(curl);
}

/* The workload; with a persistent fault it stops at the first failure
 * after it (every later call would fail the same way). */
void kt_sweep_workload(kt_sweep_run *r, const char *url)
{
    kl_archive *ar = NULL;
    if (!check_rc(r, kl_archive_open(&ar, url, NULL), "open"))
        return;
#define STEP(call)                                                                         \
    do {                                                                                   \
        int before_ = r->failures;                                                         \
        call;                                                                              \
        if (r->stop && r->failures > before_)                                              \
            goto out;                                                                      \
    } while (0)
    for (int k = 0; k < 8; k++)
        STEP(put_one(r, ar, k, 1));
    STEP(put_batch(r, ar, 8, 24, 1));
    for (int k = 0; k < 4; k++)
        STEP(put_one(r, ar, k, 2));
    STEP(del_one(r, ar, 4));
    STEP(del_one(r, ar, 5));
    STEP(del_batch(r, ar, 20, 24));
    STEP(check_rc(r, kl_archive_sync(ar), "sync"));
    STEP(check_rc(r, kl_archive_compact(ar), "compact"));
    STEP(put_batch(r, ar, 12, 16, 3));
    kl_buf rep = KL_BUF_INIT;
    size_t problems = 0;
    int vrc = kl_archive_verify(ar, true, &rep, &problems);
    kl_buf_free(&rep);
    STEP(check_rc(r, vrc, "verify --repair"));
    STEP(cached_dump(r, url));
#undef STEP
out:
    check_rc(r, kl_archive_close(ar), "close");
}

/* After the run, with no fault: reopen, verify, read back, iterate. */
void kt_sweep_check(kt_sweep_run *r, const char *url)
{
    kl_archive *ar = NULL;
    int rc = kl_archive_open(&ar, url, NULL);
    if (rc) {
        KT_SWEEP_BAD("%s: does not reopen after the fault (first failure: %s): %s", url, r->first,
            kl_errmsg());
        return;
    }
    kl_buf rep = KL_BUF_INIT, v = KL_BUF_INIT, kb = KL_BUF_INIT;
    size_t problems = 0;
    KT_OK(kl_archive_verify(ar, false, &rep, &problems));
    if (problems)
        KT_SWEEP_BAD("%s: verify finds %zu problems after the fault (first failure: %s): %s", url,
                 problems, r->first, kl_buf_cstr(&rep));
    uint8_t key[4], val[200];
    size_t present = 0;
    for (int k = 0; k < KT_SWEEP_NK; k++) {
        size_t kl = key_of(k, key);
        rc = kl_archive_get(ar, key, kl, &v);
        int got = -2;
        if (rc == KL_ENOTFOUND)
            got = KT_SWEEP_ABSENT;
        else if (rc) {
            KT_SWEEP_BAD("%s: key %d does not read back (first failure: %s): %s", url, k, r->first,
                kl_errmsg());
            continue;
        }
        for (int i = 0; got == -2 && i < 8; i++) {
            size_t vl = value_of(k, i, val);
            if (v.len == vl && !memcmp(v.data, val, vl))
                got = i;
        }
        bool fine = false;
        for (int i = 0; i < r->m.nok[k]; i++)
            fine |= r->m.ok[k][i] == got;
        if (!fine)
            KT_SWEEP_BAD("%s: key %d reads as version %d, expected %d (or one of %d failed writes; "
                     "first failure: %s)",
                     url, k, got, r->m.ok[k][0], r->m.nok[k] - 1, r->first);
        present += got != KT_SWEEP_ABSENT;
    }
    /* nothing else is there */
    kl_archive_iter *it = NULL;
    KT_OK(kl_archive_iter_new(ar, &it));
    size_t seen = 0;
    while ((rc = kl_archive_iter_next(it, &kb, &v)) == 1) {
        if (kb.len != 2 || kb.data[0] != 0x18 || kb.data[1] >= KT_SWEEP_NK)
            KT_SWEEP_BAD("%s: a stranger entry after the fault (first failure: %s)", url, r->first);
        seen++;
    }
    if (rc < 0)
        KT_SWEEP_BAD("%s: iteration fails after the fault: %s", url, kl_errmsg());
    kl_archive_iter_free(it);
    size_t n = 0;
    KT_OK(kl_archive_count(ar, &n));
    if (seen != present || n != present)
        KT_SWEEP_BAD("%s: %zu entries read back, %zu iterated, %zu counted (first failure: %s)", url,
            present, seen, n, r->first);
    KT_OK(kl_archive_close(ar));
    kl_buf_free(&rep);
    kl_buf_free(&v);
    kl_buf_free(&kb);
}

