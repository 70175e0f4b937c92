/* SPDX-License-Identifier: BSD-3-Clause */
/* sqlite: damaged database files, both layouts.  Every scan ends — the
 * library's iteration and verify, and the klepto commands that walk an
 * archive (ls, export, copy, prune, stats, verify) — whatever byte of the
 * file is damaged; verify reports what SQLite's integrity_check finds, and
 * --repair rebuilds a damaged index; and no get, batch get or iteration of
 * a damaged copy returns a value other than the one stored as a success
 * (the entry checksum), before a repair or after it.  Scans run in child processes under a
 * 30 s alarm (or `timeout`), so a hang fails the test instead of stalling
 * it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "klepto/archive.h"
#include "klepto/codec.h"
#include "klepto/error.h"
#include "klepto/sys/archive_backend.h"
#include "klepto/sys/errors.h"
#include "klepto/value.h"
#include "testutil.h"

enum { NENT = 40, PAGE = 4096 };

static const char *const layouts[] = {"?table=t", ""};

/* Entry i: key "key-NN", a text value of 200 bytes, or of 6000 (over a
 * page: overflow pages) for every tenth. */
static void entry(int i, kl_buf *k, kl_buf *v)
{
    char key[16];
    snprintf(key, sizeof key, "key-%02d", i);
    kt_enc_text(k, key);
    size_t n = i % 10 == 9 ? 6000 : 200;
    char *s = malloc(n + 1);
    memset(s, 'a' + i % 26, n);
    s[n] = 0;
    kt_enc_text(v, s);
    free(s);
}

static void fill(const char *url)
{
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
    for (int i = 0; i < NENT; i++) {
        entry(i, &k, &v);
        KT_OK(kl_archive_put(ar, k.data, k.len, v.data, v.len));
    }
    kl_buf_free(&k);
    kl_buf_free(&v);
    KT_OK(kl_archive_close(ar));
}

static void copy_file(const char *from, const char *to)
{
    size_t n;
    char *data = kt_slurp(from, &n);
    assert_non_null(data);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    free(data);
}

static void poke(const char *path, off_t off, unsigned char byte)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, &byte, 1, off), 1);
    close(fd);
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* ---- scans, each in a child under an alarm ----------------------------- */

/* What a scan reports back as its exit status. */
enum { SCAN_CLEAN = 0, SCAN_DAMAGE = 1, SCAN_ERROR = 2, SCAN_STUCK = 3, SCAN_WRONG = 4 };

/* Whether key k is entry i's key and v is not entry i's value, for some
 * i: a value other than the one stored, returned as a success. */
static bool wrong_value(const kl_buf *k, const kl_buf *v)
{
    kl_buf ek = KL_BUF_INIT, ev = KL_BUF_INIT;
    bool wrong = false;
    for (int i = 0; i < NENT; i++) {
        entry(i, &ek, &ev);
        if (ek.len == k->len && memcmp(ek.data, k->data, k->len) == 0) {
            wrong = ev.len != v->len || memcmp(ev.data, v->data, v->len) != 0;
            break;
        }
    }
    kl_buf_free(&ek);
    kl_buf_free(&ev);
    return wrong;
}

/* Get every key, one at a time and in one batch: whatever fails, nothing
 * may come back as a success with another value than the one stored. */
static int scan_gets(const char *url)
{
    kl_archive *ar;
    int r = kl_archive_open(&ar, url, NULL);
    if (r)
        return r == KL_ECORRUPT ? SCAN_DAMAGE : SCAN_ERROR;
    kl_buf k[NENT], v[NENT], got = KL_BUF_INIT, vals[NENT];
    const void *keys[NENT];
    size_t klens[NENT];
    bool found[NENT];
    int out = SCAN_CLEAN;
    for (int i = 0; i < NENT; i++) {
        k[i] = v[i] = vals[i] = (kl_buf)KL_BUF_INIT;
        entry(i, &k[i], &v[i]);
        keys[i] = k[i].data;
        klens[i] = k[i].len;
        r = kl_archive_get(ar, k[i].data, k[i].len, &got);
        if (r == 0 && wrong_value(&k[i], &got))
            out = SCAN_WRONG;
        else if (r && out == SCAN_CLEAN)
            out = SCAN_DAMAGE;
    }
    r = kl_archive_get_many(ar, NENT, keys, klens, vals, found);
    for (int i = 0; r == 0 && i < NENT; i++)
        if (found[i] && wrong_value(&k[i], &vals[i]))
            out = SCAN_WRONG;
    for (int i = 0; i < NENT; i++) {
        kl_buf_free(&k[i]);
        kl_buf_free(&v[i]);
        kl_buf_free(&vals[i]);
    }
    kl_buf_free(&got);
    kl_archive_close(ar);
    return out;
}

/* Iterate (keys only, or keys and values): the number of calls must stay
 * within one per entry plus one per damaged entry plus the end. */
static int scan_iter(const char *url, bool values)
{
    kl_archive *ar;
    int r = kl_archive_open(&ar, url, NULL);
    if (r)
        return r == KL_ECORRUPT ? SCAN_DAMAGE : SCAN_ERROR;
    kl_archive_iter *it;
    if ((r = kl_archive_iter_new(ar, &it))) {
        kl_archive_close(ar);
        return r == KL_ECORRUPT ? SCAN_DAMAGE : SCAN_ERROR;
    }
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
    int calls = 0, entries = 0, damaged = 0, out = SCAN_CLEAN;
    for (;;) {
        if (++calls > 2 * NENT + 2) {
            out = SCAN_STUCK;
            break;
        }
        r = kl_archive_iter_next(it, &k, values ? &v : NULL);
        if (r == 0)
            break;
        if (r == 1 && values && wrong_value(&k, &v)) {
            out = SCAN_WRONG;
            break;
        }
        if (r == 1)
            entries++;
        else if (r == KL_ECORRUPT)
            damaged++;
        else {
            out = SCAN_ERROR;
            break;
        }
    }
    if (out == SCAN_CLEAN && damaged)
        out = SCAN_DAMAGE;
    if (out != SCAN_STUCK && out != SCAN_WRONG && calls > entries + 2 * damaged + 1)
        out = SCAN_STUCK; /* a damaged entry reported twice */
    kl_archive_iter_free(it);
    kl_archive_close(ar);
    kl_buf_free(&k);
    kl_buf_free(&v);
    return out;
}

static int scan_verify(const char *url, bool repair)
{
    kl_archive *ar;
    int r = kl_archive_open(&ar, url, NULL);
    if (r)
        return r == KL_ECORRUPT ? SCAN_DAMAGE : SCAN_ERROR;
    kl_buf report = KL_BUF_INIT;
    size_t problems = 0;
    r = kl_archive_verify(ar, repair, &report, &problems);
    kl_archive_close(ar);
    kl_buf_free(&report);
    return r ? SCAN_ERROR : problems ? SCAN_DAMAGE : SCAN_CLEAN;
}

enum { KEYS, VALUES, VERIFY, REPAIR, GETS };
static const char *const scan_names[] = {"keys", "values", "verify", "verify --repair", "get"};

/* Scan `kind` of url in a child: its SCAN_* result; a hang (30 s) or a
 * crash fails the test. */
static int bounded_scan(int kind, const char *url, const char *what)
{
    fflush(NULL);
    pid_t p = fork();
    assert_true(p >= 0);
    if (p == 0) {
        alarm(30);
        int r = kind == KEYS     ? scan_iter(url, false)
                : kind == VALUES ? scan_iter(url, true)
                : kind == GETS   ? scan_gets(url)
                                 : scan_verify(url, kind == REPAIR);
        _exit(r);
    }
    int st;
    assert_int_equal(waitpid(p, &st, 0), p);
    if (WIFSIGNALED(st))
        fail_msg("%s: %s scan %s by signal %d", what, scan_names[kind],
                 WTERMSIG(st) == SIGALRM ? "hung: killed" : "crashed", WTERMSIG(st));
    assert_true(WIFEXITED(st));
    int r = WEXITSTATUS(st);
    if (r == SCAN_STUCK)
        fail_msg("%s: the %s scan made no progress past a damaged entry", what,
                 scan_names[kind]);
    if (r == SCAN_WRONG)
        fail_msg("%s: the %s scan returned a value other than the one stored, as a success", what,
                 scan_names[kind]);
    return r;
}

/* ---- the reported case: one 0xff byte at offset 4096 ----------------- */

static void byte_at_4096_ends_every_scan(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("sqdamage");
    for (int l = 0; l < 2; l++) {
        char path[600], url[700], what[800];
        snprintf(path, sizeof path, "%s/b%d.db", dir, l);
        snprintf(url, sizeof url, "sqlite:%s%s", path, layouts[l]);
        fill(url);
        assert_true(file_size(path) > PAGE);
        poke(path, PAGE, 0xff);
        snprintf(what, sizeof what, "%s, 0xff at 4096", url);
        assert_int_equal(bounded_scan(KEYS, url, what), SCAN_DAMAGE);
        assert_int_equal(bounded_scan(VALUES, url, what), SCAN_DAMAGE);
        assert_int_equal(bounded_scan(VERIFY, url, what), SCAN_DAMAGE);
        assert_int_equal(bounded_scan(REPAIR, url, what), SCAN_DAMAGE);
    }
    kt_rmrf(dir);
    free(dir);
}

/* Run klepto with args (a shell command line) under `timeout`, its output
 * into a file of at most 1 MB (a command repeating one error line forever
 * hits the limit); *out gets the output.  A hang or runaway output fails. */
static int klepto_bounded(const char *dir, char **out, const char *args)
{
    char log[600], cmd[4096];
    snprintf(log, sizeof log, "%s/klepto.out", dir);
    snprintf(cmd, sizeof cmd, "(ulimit -f 2048; exec timeout -k 5 30 %s %s >'%s' 2>&1)",
             kt_bin("klepto"), args, log);
    int rc = kt_run(cmd, NULL);
    *out = kt_slurp(log, NULL);
    if (rc == 124 || rc == 137)
        fail_msg("klepto %s hung (killed after 30 s); output starts: %.300s", args,
                 *out ? *out : "");
    if (rc > 3)
        fail_msg("klepto %s: exit %d (output over 1 MB?); output starts: %.300s", args, rc,
                 *out ? *out : "");
    return rc;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

/* The klepto commands on the same file, each under `timeout`: they end,
 * without repeating themselves, and verify exits 1. */
static void byte_at_4096_ends_every_command(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("sqdamagecli");
    for (int l = 0; l < 2; l++) {
        char path[600], url[700], dst[700], args[2048];
        snprintf(path, sizeof path, "%s/b%d.db", dir, l);
        snprintf(url, sizeof url, "sqlite:%s%s", path, layouts[l]);
        snprintf(dst, sizeof dst, "sqlite:%s/copy%d.db", dir, l);
        fill(url);
        poke(path, PAGE, 0xff);
        static const char *const cmds[] = {"ls '%s'", "ls --long '%s'", "export '%s'",
                                           "stats '%s'", "prune '%s' --max-entries 5",
                                           "count '%s'"};
        for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
            char *out = NULL;
            snprintf(args, sizeof args, cmds[i], url);
            int rc = klepto_bounded(dir, &out, args);
            if (count_lines(out) > NENT + 5)
                fail_msg("klepto %s (exit %d) wrote %d lines: %.300s", args, rc,
                         count_lines(out), out);
            free(out);
        }
        char *out = NULL;
        snprintf(args, sizeof args, "copy '%s' '%s'", url, dst);
        klepto_bounded(dir, &out, args);
        assert_true(count_lines(out) <= NENT + 5);
        free(out);
        snprintf(args, sizeof args, "verify '%s'", url);
        assert_int_equal(klepto_bounded(dir, &out, args), 1);
        assert_non_null(strstr(out, "malformed"));
        free(out);
        snprintf(args, sizeof args, "verify '%s' --repair", url);
        assert_int_equal(klepto_bounded(dir, &out, args), 1);
        free(out);
    }
    kt_rmrf(dir);
    free(dir);
}

/* ---- any byte: every page, at the places that matter most -------------- */

static void unlink_side_files(const char *path)
{
    char side[700];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

/* Each page's header (type, free block, cell count, content start, right
 * child), its first cell pointers, and bytes inside the cells; on page 1
 * the file header's too (and in test-long every 37th byte).  Every scan of
 * every damaged copy must end. */
static void any_damaged_byte_ends_every_scan(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("sqsweep");
    static const int in_page[] = {0, 1, 3, 5, 8, 12, 14, 300, 1500, 2900, 4000, 4095};
    static const int in_header[] = {16, 18, 28, 40, 56, 100, 103, 108};
    for (int l = 0; l < 2; l++) {
        char clean[600], path[600], url[700], what[800];
        snprintf(clean, sizeof clean, "%s/clean%d.db", dir, l);
        snprintf(path, sizeof path, "%s/dmg.db", dir);
        snprintf(url, sizeof url, "sqlite:%s%s", clean, layouts[l]);
        fill(url);
        snprintf(url, sizeof url, "sqlite:%s%s", path, layouts[l]);
        size_t size;
        unsigned char *orig = (unsigned char *)kt_slurp(clean, &size);
        assert_non_null(orig);
        size_t runs = 0;
        /* KLEPTO_TEST_LONG=1 (`make test-long`): also every 37th byte of
         * every page */
        size_t every = kt_long() ? 37 : 0;
        for (size_t page = 0; page < size; page += PAGE) {
            size_t listed = page ? sizeof in_page / sizeof *in_page
                                 : sizeof in_header / sizeof *in_header;
            size_t n = listed + (every ? PAGE / every : 0);
            for (size_t j = 0; j < n; j++) {
                size_t off = j < listed ? page + (size_t)(page ? in_page[j] : in_header[j])
                                        : page + (j - listed) * every + 1;
                if (off >= size)
                    continue;
                unlink_side_files(path);
                copy_file(clean, path);
                poke(path, (off_t)off, (unsigned char)~orig[off]);
                snprintf(what, sizeof what, "%s, byte %zu inverted", url, off);
                /* gets first: a repair changes the file */
                bounded_scan(GETS, url, what);
                for (int kind = KEYS; kind <= REPAIR; kind++)
                    bounded_scan(kind, url, what);
                /* what verify --repair left reads right, too */
                bounded_scan(GETS, url, what);
                bounded_scan(VALUES, url, what);
                runs++;
            }
        }
        print_message("%s: %zu damaged copies scanned\n", layouts[l][0] ? "?table=" : "table per key",
                      runs);
        free(orig);
    }
    kt_rmrf(dir);
    free(dir);
}

/* ---- verify: SQLite's integrity_check, and REINDEX as the repair -------- */

static int64_t root_page(const char *path, const char *name)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT rootpage FROM sqlite_master WHERE name = ?1", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t root = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return root;
}

static void get_is(kl_archive *ar, int key_of, int value_of, bool want_equal)
{
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT, w = KL_BUF_INIT, got = KL_BUF_INIT;
    entry(key_of, &k, &v);
    entry(value_of, &w, &v);
    KT_OK(kl_archive_get(ar, k.data, k.len, &got));
    bool eq = got.len == v.len && memcmp(got.data, v.data, v.len) == 0;
    assert_true(eq == want_equal);
    kl_buf_free(&k);
    kl_buf_free(&v);
    kl_buf_free(&w);
    kl_buf_free(&got);
}

/* The table-per-key layout finds a key's id through the catalogue's key
 * index.  A damaged index entry that points at another id hands out that
 * entry's value, and every value still decodes: only SQLite's check of
 * the index against its table sees it. */
static void verify_finds_and_repairs_a_damaged_key_index(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("sqindex");
    char path[600], url[700];
    snprintf(path, sizeof path, "%s/i.db", dir);
    snprintf(url, sizeof url, "sqlite:%s", path);
    fill(url);
    int64_t root = root_page(path, "sqlite_autoindex_klepto_catalogue_1");
    size_t size;
    unsigned char *data = (unsigned char *)kt_slurp(path, &size);
    assert_non_null(data);
    assert_true((size_t)root * PAGE <= size);
    /* the index record of key-07: its key bytes, then its id, 8 (ids count
     * from 1), in one byte */
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
    entry(7, &k, &v);
    unsigned char *pg = data + (root - 1) * PAGE;
    unsigned char *at = memmem(pg, PAGE, k.data, k.len);
    assert_non_null(at);
    off_t off = (off_t)(at - data) + (off_t)k.len;
    assert_int_equal(data[off], 8);
    poke(path, off, 9); /* key-07 -> the id of key-08 */
    free(data);
    kl_buf_free(&k);
    kl_buf_free(&v);

    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, url, NULL));
    /* the damage hands out key-08's row: its checksum, which covers the
     * key asked for, fails (before entry checksums: a wrong value) */
    kl_buf k7 = KL_BUF_INIT, v7 = KL_BUF_INIT, got7 = KL_BUF_INIT;
    entry(7, &k7, &v7);
    assert_int_equal(kl_archive_get(ar, k7.data, k7.len, &got7), KL_ECORRUPT);
    assert_non_null(strstr(kl_errmsg(), "'key-07'"));
    assert_non_null(strstr(kl_errmsg(), "checksum mismatch"));
    kl_buf_free(&k7);
    kl_buf_free(&v7);
    kl_buf_free(&got7);
    kl_buf report = KL_BUF_INIT;
    size_t problems = 0;
    KT_OK(kl_archive_verify(ar, false, &report, &problems));
    if (problems == 0)
        fail_msg("verify found nothing wrong with a damaged key index");
    assert_non_null(strstr(kl_buf_cstr(&report), "integrity_check"));
    kl_buf_reset(&report);
    KT_OK(kl_archive_verify(ar, true, &report, &problems));
    assert_true(problems > 0);
    assert_non_null(strstr(kl_buf_cstr(&report), "REINDEX rebuilt"));
    get_is(ar, 7, 7, true); /* repaired */
    get_is(ar, 8, 8, true);
    kl_buf_reset(&report);
    KT_OK(kl_archive_verify(ar, false, &report, &problems));
    if (problems)
        fail_msg("after the repair: %s", kl_buf_cstr(&report));
    KT_OK(kl_archive_close(ar));

    /* the klepto command: exit 1 and SQLite's finding, before the repair */
    poke(path, off, 9);
    char *out = NULL;
    assert_int_equal(kt_klepto(&out, true, "verify '%s'", url), 1);
    assert_non_null(strstr(out, "integrity_check"));
    free(out);
    kl_buf_free(&report);
    kt_rmrf(dir);
    free(dir);
}

/* ---- the CLI's scan loop against an iterator that never moves --------- */

/* "stuck:forever": every iter_next reports the same damage.  "stuck:three":
 * three damaged entries, alike but for their keys, then one good entry,
 * then the end.  A plug-in, through the public backend interface. */
typedef struct stuck_cur {
    bool forever;
    int calls;
} stuck_cur;

static int stuck_open(void **st, const kl_url *url, const kl_archive_opts *o)
{
    (void)o;
    *st = (void *)(strcmp(url->rest, "forever") == 0 ? "forever" : "three");
    return 0;
}
static int stuck_close(void *st) { return (void)st, 0; }
static int stuck_get(void *st, const void *k, size_t kl, kl_buf *v)
{
    (void)st, (void)k, (void)kl, (void)v;
    return kl_seterr(KL_ENOTFOUND, "stuck: no keys");
}
static int stuck_put(void *st, const void *k, size_t kl, const void *v, size_t vl)
{
    (void)st, (void)k, (void)kl, (void)v, (void)vl;
    return kl_seterr(KL_EUNSUPPORTED, "stuck: read-only");
}
static int stuck_del(void *st, const void *k, size_t kl)
{
    (void)st, (void)k, (void)kl;
    return kl_seterr(KL_ENOTFOUND, "stuck: no keys");
}
static int stuck_count(void *st, size_t *n) { return (void)st, *n = 0, 0; }
static int stuck_iter_new(void *st, void **cur)
{
    stuck_cur *c = calloc(1, sizeof *c);
    c->forever = strcmp(st, "forever") == 0;
    *cur = c;
    return 0;
}
static int stuck_iter_next(void *cur, kl_buf *k, kl_buf *v)
{
    stuck_cur *c = cur;
    int i = c->calls++;
    if (c->forever || i < 3) {
        kl_buf_reset(k);
        if (!c->forever)
            kl_buf_append(k, &i, 1);
        return kl_seterr(KL_ECORRUPT, "stuck: a damaged entry");
    }
    if (i > 3)
        return 0;
    kl_buf_reset(k);
    kl_buf_append(k, "\x01", 1);
    if (v) {
        kl_buf_reset(v);
        kl_buf_append(v, "\x02", 1);
    }
    return 1;
}
static void stuck_iter_free(void *cur) { free(cur); }

static const kl_archive_backend stuck_backend = {
    .version = KL_BACKEND_VERSION,
    .scheme = "stuck",
    .open = stuck_open,
    .close = stuck_close,
    .get = stuck_get,
    .put = stuck_put,
    .del = stuck_del,
    .count = stuck_count,
    .iter_new = stuck_iter_new,
    .iter_next = stuck_iter_next,
    .iter_free = stuck_iter_free,
};

static void the_cli_scan_never_spins_on_one_damaged_entry(void **state)
{
    (void)state;
    KT_OK(kl_archive_register(&stuck_backend));
    fflush(NULL);
    pid_t p = fork();
    assert_true(p >= 0);
    if (p == 0) {
        alarm(30);
        kl_archive *ar;
        kl_archive_iter *it;
        kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
        size_t damaged = 0;
        if (kl_archive_open(&ar, "stuck:forever", NULL) || kl_archive_iter_new(ar, &it))
            _exit(10);
        int r = cli_next_entry(it, "stuck:forever", false, &k, &v, &damaged);
        if (r != KL_EIO || damaged != 1 || !strstr(kl_errmsg(), "does not get past"))
            _exit(11);
        if (cli_status(r) != CLI_IO)
            _exit(12);
        kl_archive_iter_free(it);
        kl_archive_close(ar);
        /* damage alike but for the key is three entries, not a stuck scan */
        damaged = 0;
        if (kl_archive_open(&ar, "stuck:three", NULL) || kl_archive_iter_new(ar, &it))
            _exit(13);
        if (cli_next_entry(it, "stuck:three", false, &k, &v, &damaged) != 1 || damaged != 3)
            _exit(14);
        if (cli_next_entry(it, "stuck:three", false, &k, &v, &damaged) != 0)
            _exit(15);
        kl_archive_iter_free(it);
        kl_archive_close(ar);
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(p, &st, 0), p);
    if (WIFSIGNALED(st))
        fail_msg("cli_next_entry %s (signal %d)",
                 WTERMSIG(st) == SIGALRM ? "spun forever on one damaged entry" : "crashed",
                 WTERMSIG(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(byte_at_4096_ends_every_scan),
        cmocka_unit_test(byte_at_4096_ends_every_command),
        cmocka_unit_test(any_damaged_byte_ends_every_scan),
        cmocka_unit_test(verify_finds_and_repairs_a_damaged_key_index),
        cmocka_unit_test(the_cli_scan_never_spins_on_one_damaged_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
