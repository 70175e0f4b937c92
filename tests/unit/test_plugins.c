/* SPDX-License-Identifier: BSD-3-Clause */
/* Plug-ins defined outside the library: an archive backend and an
 * eviction policy written against the installed headers only, registered
 * with kl_archive_register / kl_policy_register and used through
 * kl_archive_open, a cache and a memo.  This program is built with only
 * include/ on its include path and linked against the shared library
 * (tests/CMakeLists.txt), as a plug-in author's program would be. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "klepto/archive.h"
#include "klepto/cache.h"
#include "klepto/memo.h"
#include "klepto/sys/archive_backend.h"
#include "klepto/sys/errors.h"
#include "klepto/sys/policy.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OK(expr)                                                                         \
    do {                                                                                 \
        int ok_rc_ = (expr);                                                             \
        if (ok_rc_ != 0)                                                                 \
            fail_msg("%s -> %d: %s", #expr, ok_rc_, kl_errmsg());                        \
    } while (0)

/* ---- "tally:NAME[?limit=N]": named in-process stores, required slots only */

typedef struct entry {
    struct entry *next;
    size_t klen, vlen;
    unsigned char *key, *val;
} entry;

typedef struct store {
    struct store *next;
    char *name;
    entry *entries;
    size_t n;
} store;

static store *stores; /* the core serialises calls: the backend is not THREADSAFE */

typedef struct tally {
    store *s;
    uint64_t limit; /* entries it may hold */
} tally;

static int t_open(void **state, const kl_url *url, const kl_archive_opts *opts)
{
    (void)opts;
    uint64_t limit = 1000;
    int rc = kl_url_uint(url, "limit", 1, 1000, &limit);
    if (rc)
        return rc;
    if (!*url->rest)
        return kl_seterr(KL_EINVAL, "%s: a store name is needed (tally:NAME)", kl_url_shown(url));
    store *s = stores;
    while (s && strcmp(s->name, url->rest))
        s = s->next;
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s || !(s->name = strdup(url->rest))) {
            free(s);
            return kl_seterr(KL_ENOMEM, "%s: out of memory", kl_url_shown(url));
        }
        s->next = stores;
        stores = s;
    }
    tally *t = malloc(sizeof *t);
    if (!t)
        return kl_seterr(KL_ENOMEM, "%s: out of memory", kl_url_shown(url));
    t->s = s;
    t->limit = limit;
    *state = t;
    return 0;
}

static int t_close(void *state)
{
    free(state);
    return 0;
}

static entry **t_find(tally *t, const void *k, size_t kl)
{
    entry **p = &t->s->entries;
    while (*p && !((*p)->klen == kl && !memcmp((*p)->key, k, kl)))
        p = &(*p)->next;
    return p;
}

static int t_get(void *state, const void *k, size_t kl, kl_buf *v)
{
    entry *e = *t_find(state, k, kl);
    if (!e)
        return kl_seterr(KL_ENOTFOUND, "tally: key not found");
    kl_buf_reset(v);
    return kl_buf_append(v, e->val, e->vlen);
}

static int t_put(void *state, const void *k, size_t kl, const void *v, size_t vl)
{
    tally *t = state;
    entry **p = t_find(t, k, kl), *e = *p;
    if (!e && t->s->n >= t->limit)
        return kl_seterr(KL_ETOOBIG, "tally:%s: full (%zu entries)", t->s->name, t->s->n);
    unsigned char *nv = malloc(vl ? vl : 1);
    if (!nv)
        return kl_seterr(KL_ENOMEM, "tally: out of memory");
    memcpy(nv, v, vl);
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e || !(e->key = malloc(kl ? kl : 1))) {
            free(e);
            free(nv);
            return kl_seterr(KL_ENOMEM, "tally: out of memory");
        }
        memcpy(e->key, k, kl);
        e->klen = kl;
        *p = e;
        t->s->n++;
    }
    free(e->val);
    e->val = nv;
    e->vlen = vl;
    return 0;
}

static int t_del(void *state, const void *k, size_t kl)
{
    tally *t = state;
    entry **p = t_find(t, k, kl), *e = *p;
    if (!e)
        return kl_seterr(KL_ENOTFOUND, "tally: key not found");
    *p = e->next;
    t->s->n--;
    free(e->key);
    free(e->val);
    free(e);
    return 0;
}

static int t_count(void *state, size_t *out)
{
    *out = ((tally *)state)->s->n;
    return 0;
}

static int t_iter_new(void *state, void **cursor)
{
    entry **c = malloc(sizeof *c);
    if (!c)
        return kl_seterr(KL_ENOMEM, "tally: out of memory");
    *c = ((tally *)state)->s->entries;
    *cursor = c;
    return 0;
}

static int t_iter_next(void *cursor, kl_buf *key, kl_buf *val)
{
    entry **c = cursor, *e = *c;
    if (!e)
        return 0;
    *c = e->next;
    kl_buf_reset(key);
    int rc = kl_buf_append(key, e->key, e->klen);
    if (!rc && val) {
        kl_buf_reset(val);
        rc = kl_buf_append(val, e->val, e->vlen);
    }
    return rc ? rc : 1;
}

static void t_iter_free(void *cursor) { free(cursor); }

static const kl_archive_backend tally_backend = {
    .version = KL_BACKEND_VERSION,
    .scheme = "tally",
    .open = t_open,
    .close = t_close,
    .get = t_get,
    .put = t_put,
    .del = t_del,
    .count = t_count,
    .iter_new = t_iter_new,
    .iter_next = t_iter_next,
    .iter_free = t_iter_free,
};

/* ---- "plugfifo": evicts the entry inserted longest ago ----------------- */

typedef struct pnode {
    struct pnode *prev, *next;
} pnode;

static size_t fifo_hits; /* on_hit calls: the cache's lock makes them exclusive */

static int pf_create(void **state, size_t capacity, uint64_t seed)
{
    (void)capacity;
    (void)seed;
    pnode *head = malloc(sizeof *head);
    if (!head)
        return KL_ENOMEM;
    head->prev = head->next = head;
    *state = head;
    return 0;
}

static void pf_destroy(void *state) { free(state); }

static void pf_on_insert(void *state, void *meta, uint64_t hash)
{
    (void)hash;
    pnode *head = state, *n = meta;
    n->next = head->next;
    n->prev = head;
    head->next->prev = n;
    head->next = n;
}

static void pf_on_hit(void *state, void *meta)
{
    (void)state;
    (void)meta;
    fifo_hits++;
}

static void pf_on_remove(void *state, void *meta)
{
    (void)state;
    pnode *n = meta;
    n->prev->next = n->next;
    n->next->prev = n->prev;
}

static void *pf_victim(void *state)
{
    pnode *head = state;
    return head->prev == head ? NULL : head->prev;
}

static const kl_policy_ops plugfifo = {
    .version = KL_POLICY_VERSION,
    .name = "plugfifo",
    .meta_size = sizeof(pnode),
    .create = pf_create,
    .destroy = pf_destroy,
    .on_insert = pf_on_insert,
    .on_hit = pf_on_hit,
    .on_remove = pf_on_remove,
    .victim = pf_victim,
    .hints = NULL, /* every hit reaches on_hit */
};

/* The layout kl_policy_ops had at version 3, as a program built against
 * that header would still pass it. */
typedef struct policy_ops_v3 {
    unsigned version;
    const char *name;
    size_t meta_size;
    int (*create)(void **state, size_t capacity, uint64_t seed);
    void (*destroy)(void *state);
    void (*on_insert)(void *state, void *meta, uint64_t hash);
    void (*on_hit)(void *state, void *meta);
    void (*on_remove)(void *state, void *meta);
    void *(*victim)(void *state);
    bool hit_saturation;
    uint32_t hit_word;
    uint64_t hit_mask;
    bool deferrable_hits;
} policy_ops_v3;

static int setup(void **st)
{
    (void)st;
    if (kl_archive_register(&tally_backend) || kl_policy_register(&plugfifo))
        return -1;
    return 0;
}

/* ---- the backend -------------------------------------------------------- */

static void backend_registration_is_checked(void **st)
{
    (void)st;
    assert_int_equal(kl_archive_register(&tally_backend), KL_EINVAL);
    assert_string_equal(kl_errmsg(), "archive scheme 'tally' is already registered");
    kl_archive_backend b = tally_backend;
    b.scheme = "mem";
    assert_int_equal(kl_archive_register(&b), KL_EINVAL); /* a built-in's */
    b.scheme = "tally2";
    b.version = KL_BACKEND_VERSION + 1;
    assert_int_equal(kl_archive_register(&b), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "this library knows"));
    b.version = KL_BACKEND_VERSION;
    b.count = NULL;
    assert_int_equal(kl_archive_register(&b), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "a required slot is NULL"));
    kl_archive *ar = NULL;
    assert_int_equal(kl_archive_open(&ar, "tally2:x", NULL), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "unknown archive scheme 'tally2:'"));
}

static void backend_serves_archives_with_the_core_fallbacks(void **st)
{
    (void)st;
    kl_archive *ar = NULL, *other = NULL;
    OK(kl_archive_open(&ar, "tally:a?limit=3", NULL));
    assert_string_equal(kl_archive_scheme(ar), "tally");
    OK(kl_archive_put(ar, "\x01", 1, "\x0a", 1));
    OK(kl_archive_put(ar, "\x02", 1, "\x0b", 1));
    OK(kl_archive_open(&other, "tally:a", NULL)); /* the same store */
    kl_buf v = KL_BUF_INIT;
    OK(kl_archive_get(other, "\x02", 1, &v));
    assert_int_equal(v.len, 1);
    assert_int_equal(v.data[0], 0x0b);
    /* optional slots left NULL: the core's fallbacks */
    assert_int_equal(kl_archive_contains(other, "\x01", 1), 1);
    assert_int_equal(kl_archive_contains(other, "\x03", 1), 0);
    kl_entry_info info;
    OK(kl_archive_stat(other, "\x01", 1, &info));
    assert_int_equal(info.size, 2);
    const void *keys[2] = {"\x03", "\x04"}, *vals[2] = {"\x0c", "\x0d"};
    size_t lens[2] = {1, 1};
    /* the fallback of put_many puts one by one: the 4th entry is refused
     * by the backend, with its message */
    assert_int_equal(kl_archive_put_many(ar, 2, keys, lens, vals, lens), KL_ETOOBIG);
    assert_string_equal(kl_errmsg(), "tally:a: full (3 entries)");
    size_t n = 0, problems = 9;
    OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 3);
    OK(kl_archive_verify(ar, false, NULL, &problems));
    assert_int_equal(problems, 0);
    OK(kl_archive_clear(ar)); /* iterate + del */
    OK(kl_archive_count(other, &n));
    assert_int_equal(n, 0);
    assert_int_equal(kl_archive_drop(other), KL_EUNSUPPORTED); /* no drop slot */
    OK(kl_archive_close(ar));
    kl_buf_free(&v);
    /* its options are read with the public readers and checked */
    assert_int_equal(kl_archive_open(&ar, "tally:a?limit=0", NULL), KL_EINVAL);
    assert_string_equal(kl_errmsg(), "tally:a?limit=0: limit=0: expected an integer in [1, 1000]");
    assert_int_equal(kl_archive_open(&ar, "tally:a?size=1", NULL), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "unknown option 'size' for tally: archives"));
    assert_int_equal(kl_archive_open(&ar, "tally:", NULL), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "a store name is needed"));
    /* the core's own option applies to plug-in archives too */
    OK(kl_archive_open(&ar, "tally:a?cached=true", NULL));
    assert_string_equal(kl_archive_scheme(ar), "cached");
    OK(kl_archive_put(ar, "\x05", 1, "\x0e", 1));
    OK(kl_archive_close(ar)); /* writes the entry to tally:a */
    OK(kl_archive_open(&ar, "tally:a", NULL));
    assert_int_equal(kl_archive_contains(ar, "\x05", 1), 1);
    OK(kl_archive_close(ar));
}

/* ---- the policy --------------------------------------------------------- */

static void policy_registration_is_checked(void **st)
{
    (void)st;
    assert_ptr_equal(kl_policy_find("plugfifo"), &plugfifo);
    assert_int_equal(kl_policy_register(&plugfifo), KL_EINVAL);
    assert_string_equal(kl_errmsg(), "policy 'plugfifo' is already registered");
    kl_policy_ops p = plugfifo;
    p.name = "lru";
    assert_int_equal(kl_policy_register(&p), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "built-in"));
    p.name = "inf";
    assert_int_equal(kl_policy_register(&p), KL_EINVAL);
    p.name = "";
    assert_int_equal(kl_policy_register(&p), KL_EINVAL);
    assert_int_equal(kl_policy_register(NULL), KL_EINVAL);
    p.name = "newer";
    p.version = KL_POLICY_VERSION + 1;
    assert_int_equal(kl_policy_register(&p), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "this library knows"));
    p.version = 0;
    assert_int_equal(kl_policy_register(&p), KL_EINVAL);
    p.version = KL_POLICY_VERSION;
    p.victim = NULL;
    assert_int_equal(kl_policy_register(&p), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "a required slot is NULL"));
    p.victim = pf_victim;
    static const kl_policy_hints bad = {.hit_saturation = true, .hit_word = 16, .hit_mask = 1};
    p.hints = &bad; /* the word lies past the 16 bytes of metadata */
    assert_int_equal(kl_policy_register(&p), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "hit_word 16"));
    assert_null(kl_policy_find("newer"));
    /* refused names were not taken */
    kl_cache *c = NULL;
    kl_cache_opts o = KL_CACHE_OPTS_INIT;
    o.policy = "newer";
    assert_int_equal(kl_cache_new(&c, &o), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "unknown policy 'newer'"));
}

/* Cache of two entries: a, b in, a hit, c in.  FIFO evicts a (LRU would
 * have evicted b).  Returns the name of the policy in force. */
static const char *evict_after_hit(const char *policy, bool *a_left, bool *b_left)
{
    kl_cache *c = NULL;
    kl_cache_opts o = KL_CACHE_OPTS_INIT;
    o.policy = policy;
    o.maxsize = 2;
    o.shards = 1;
    OK(kl_cache_new(&c, &o));
    kl_buf v = KL_BUF_INIT;
    OK(kl_cache_put(c, "a", 1, "1", 1));
    OK(kl_cache_put(c, "b", 1, "2", 1));
    OK(kl_cache_get(c, "a", 1, &v, true));
    OK(kl_cache_put(c, "c", 1, "3", 1));
    *a_left = kl_cache_get(c, "a", 1, &v, false) == 0;
    *b_left = kl_cache_get(c, "b", 1, &v, false) == 0;
    assert_int_equal(kl_cache_get(c, "c", 1, &v, false), 0);
    const char *name = kl_cache_policy(c);
    kl_buf_free(&v);
    OK(kl_cache_free(c));
    return name;
}

static void a_cache_evicts_by_the_registered_policy(void **st)
{
    (void)st;
    bool a, b;
    size_t hits0 = fifo_hits;
    assert_string_equal(evict_after_hit("plugfifo", &a, &b), "plugfifo");
    assert_false(a);
    assert_true(b);
    assert_true(fifo_hits > hits0); /* no hints: hits reach the policy */
    assert_string_equal(evict_after_hit("lru", &a, &b), "lru");
    assert_true(a);
    assert_false(b);
}

/* Structs written for older versions of the header are still taken. */
static void older_policy_versions_are_accepted(void **st)
{
    (void)st;
    static const policy_ops_v3 v3 = {
        3, "fifo_v3", sizeof(pnode), pf_create, pf_destroy, pf_on_insert, pf_on_hit,
        pf_on_remove, pf_victim,
        true, 0, 0, /* hits never change anything */
        false,
    };
    OK(kl_policy_register((const kl_policy_ops *)(const void *)&v3));
    bool a, b;
    assert_string_equal(evict_after_hit("fifo_v3", &a, &b), "fifo_v3");
    assert_false(a);
    assert_true(b);
    /* the v3 hints are read where v3 had them: these are refused */
    static const policy_ops_v3 v3bad = {
        3, "bad_v3", sizeof(pnode), pf_create, pf_destroy, pf_on_insert, pf_on_hit,
        pf_on_remove, pf_victim, true, 16, 1, false,
    };
    assert_int_equal(kl_policy_register((const kl_policy_ops *)(const void *)&v3bad), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "hit_word 16"));
    static kl_policy_ops v1; /* version 1 ends at victim */
    v1 = plugfifo;
    v1.version = 1;
    v1.name = "fifo_v1";
    OK(kl_policy_register(&v1));
    assert_string_equal(evict_after_hit("fifo_v1", &a, &b), "fifo_v1");
    assert_false(a);
    assert_true(b);
}

/* A backend built against version 2 of the header (its struct ends at
 * del_many: copied here into exactly that many bytes, so reading a later
 * slot would be caught under AddressSanitizer) keeps size limits through
 * the core's fallbacks: ?max_entries= holds, and its storage bytes are
 * its keys + values, not measured. */
static void a_version_2_backend_keeps_size_limits(void **st)
{
    (void)st;
    size_t v2size = offsetof(kl_archive_backend, del_many) + sizeof tally_backend.del_many;
    kl_archive_backend full = tally_backend;
    full.version = 2;
    full.scheme = "tally2";
    void *v2 = malloc(v2size); /* registered for good: never freed */
    assert_non_null(v2);
    memcpy(v2, &full, v2size);
    OK(kl_archive_register((const kl_archive_backend *)v2));
    kl_archive *ar = NULL;
    OK(kl_archive_open(&ar, "tally2:lim?max_entries=10", NULL));
    char key[8];
    for (int i = 0; i < 35; i++) { /* untimed: the oldest are the first keys */
        snprintf(key, sizeof key, "k%02d", i);
        OK(kl_archive_put(ar, key, 3, "v", 1));
    }
    size_t n = 0;
    OK(kl_archive_count(ar, &n));
    assert_true(n >= 9 && n <= 10);
    assert_int_equal(kl_archive_contains(ar, "k34", 3), 1);
    assert_int_equal(kl_archive_contains(ar, "k00", 3), 0);
    uint64_t bytes = 0;
    bool measured = true;
    OK(kl_archive_storage_bytes(ar, &bytes, &measured));
    assert_false(measured);
    assert_int_equal(bytes, n * 4);
    OK(kl_archive_close(ar));
}

/* Registration from many threads at once: each name is taken exactly once
 * (the same struct registered by every thread succeeds for one), and
 * lookups running meanwhile find only complete entries. */
enum { RTHREADS = 4, RPER = 16 };
static kl_policy_ops race_ops[RTHREADS][RPER];
static char race_names[RTHREADS][RPER][16];
static kl_archive_backend race_backend;
static int race_wins[RTHREADS];

static void *race(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int j = 0; j < RPER; j++) {
        if (kl_policy_register(&race_ops[t][j]) != 0)
            return (void *)1;
        const kl_policy_ops *f = kl_policy_find(race_names[(t + 1) % RTHREADS][j]);
        if (f && f->victim != pf_victim)
            return (void *)1;
    }
    race_wins[t] = kl_archive_register(&race_backend) == 0;
    return NULL;
}

static void registration_from_many_threads(void **st)
{
    (void)st;
    for (int t = 0; t < RTHREADS; t++)
        for (int j = 0; j < RPER; j++) {
            snprintf(race_names[t][j], sizeof race_names[t][j], "race%d_%d", t, j);
            race_ops[t][j] = plugfifo;
            race_ops[t][j].name = race_names[t][j];
        }
    race_backend = tally_backend;
    race_backend.scheme = "race";
    pthread_t th[RTHREADS];
    for (int t = 0; t < RTHREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, race, (void *)(intptr_t)t), 0);
    int wins = 0;
    for (int t = 0; t < RTHREADS; t++) {
        void *r = NULL;
        assert_int_equal(pthread_join(th[t], &r), 0);
        assert_null(r);
        wins += race_wins[t];
    }
    assert_int_equal(wins, 1);
    for (int t = 0; t < RTHREADS; t++)
        for (int j = 0; j < RPER; j++)
            assert_ptr_equal(kl_policy_find(race_names[t][j]), &race_ops[t][j]);
    kl_archive *ar = NULL;
    OK(kl_archive_open(&ar, "race:r", NULL));
    OK(kl_archive_close(ar));
}

/* ---- both, under a memo ------------------------------------------------- */

static int squares;

static int square(void *ud, const kl_call *call, kl_value *result)
{
    (void)ud;
    squares++;
    *result = kl_value_int(call->pos[0].u.i * call->pos[0].u.i);
    return 0;
}

static int64_t call_square(kl_memo *m, int64_t x)
{
    kl_value arg = kl_value_int(x), r;
    kl_call call = {&arg, 1, NULL, NULL, 0};
    OK(kl_memo_call(m, &call, &r));
    int64_t out = r.u.i;
    kl_value_free(&r);
    return out;
}

static void a_memo_uses_the_plugin_policy_and_archive(void **st)
{
    (void)st;
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.signature = "x";
    o.cache.policy = "plugfifo";
    o.cache.maxsize = 2;
    o.cache.shards = 1;
    o.archive = "tally:memo";
    kl_memo *m = NULL;
    OK(kl_memo_new(&m, "square", square, NULL, &o));
    assert_int_equal(call_square(m, 1), 1);
    assert_int_equal(call_square(m, 2), 4);
    assert_int_equal(call_square(m, 1), 1); /* a hit */
    assert_int_equal(call_square(m, 3), 9); /* evicts 1: first in */
    assert_int_equal(call_square(m, 1), 1); /* from the archive */
    assert_int_equal(squares, 3);
    kl_memo_info info;
    kl_memo_info_get(m, &info);
    assert_string_equal(info.policy, "plugfifo");
    assert_int_equal(info.hit, 1);
    assert_int_equal(info.miss, 3);
    assert_int_equal(info.load, 1);
    assert_string_equal(kl_archive_scheme(kl_memo_archive(m)), "tally");
    OK(kl_memo_free(m));
    /* the results stayed in the plug-in's store */
    kl_archive *ar = NULL;
    size_t n = 0;
    OK(kl_archive_open(&ar, "tally:memo", NULL));
    OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 3);
    OK(kl_archive_close(ar));
}

/* A program's own functions whose names the library uses inside: before
 * the library hid its insides, a program defining kv_find (the mem:
 * archive's table lookup, exported then) silently took over the library's
 * calls, and a put was then "not found".  Hidden names bind inside the
 * library, so these change nothing there. */
int kv_find(void);
int kv_find(void) { return -1; }
int kl__kv_find(void);
int kl__kv_find(void) { return -1; }

static void the_programs_own_names_do_not_replace_the_librarys(void **st)
{
    (void)st;
    assert_int_equal(kv_find() + kl__kv_find(), -2);
    kl_archive *ar = NULL;
    OK(kl_archive_open(&ar, "mem:", NULL));
    OK(kl_archive_put(ar, "k", 1, "\x01", 1));
    kl_buf v = KL_BUF_INIT;
    OK(kl_archive_get(ar, "k", 1, &v));
    assert_int_equal(v.len, 1);
    kl_buf_free(&v);
    OK(kl_archive_close(ar));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backend_registration_is_checked),
        cmocka_unit_test(backend_serves_archives_with_the_core_fallbacks),
        cmocka_unit_test(policy_registration_is_checked),
        cmocka_unit_test(a_cache_evicts_by_the_registered_policy),
        cmocka_unit_test(older_policy_versions_are_accepted),
        cmocka_unit_test(a_version_2_backend_keeps_size_limits),
        cmocka_unit_test(a_memo_uses_the_plugin_policy_and_archive),
        cmocka_unit_test(registration_from_many_threads),
        cmocka_unit_test(the_programs_own_names_do_not_replace_the_librarys),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
