/* SPDX-License-Identifier: BSD-3-Clause */
/* mem: — an in-process dictionary (klepto's dict_archive).  "mem:" is a
 * private store per handle; "mem:NAME" names a store shared by every
 * handle of the process that opens that name, kept for the life of the
 * process (or until dropped). */
#include "archive/backends.h"
#include "internal.h"
#include "archive/util/kvtable.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct store {
    pthread_mutex_t mu;
    kvtable t;
    char *name;         /* NULL for a private store */
    unsigned refs;      /* handles + cursors (+1 while named in the list) */
    struct store *next; /* the list of named stores */
} store;

static pthread_mutex_t names_mu = PTHREAD_MUTEX_INITIALIZER;
static store *names;

static void store_unref(store *s)
{
    pthread_mutex_lock(&names_mu);
    bool last = --s->refs == 0;
    pthread_mutex_unlock(&names_mu);
    if (last) {
        kl__kv_free(&s->t);
        pthread_mutex_destroy(&s->mu);
        free(s->name);
        free(s);
    }
}

static store *store_new(const char *name)
{
    store *s = calloc(1, sizeof *s);
    if (!s || (name && !(s->name = strdup(name)))) {
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    kl__kv_init(&s->t);
    return s;
}

static int mem_open(void **state, const kl_url *url, const kl_archive_opts *opts)
{
    (void)opts;
    store *s = NULL;
    if (!*url->rest) {
        s = store_new(NULL);
        if (s)
            s->refs = 1;
    } else {
        pthread_mutex_lock(&names_mu);
        for (s = names; s && strcmp(s->name, url->rest); s = s->next)
            ;
        if (!s && (s = store_new(url->rest)) != NULL) {
            s->refs = 1; /* the list's reference */
            s->next = names;
            names = s;
        }
        if (s)
            s->refs++;
        pthread_mutex_unlock(&names_mu);
    }
    if (!s)
        return kl_seterr(KL_ENOMEM, "%s: out of memory", url->full);
    *state = s;
    return 0;
}

static int mem_close(void *state)
{
    store_unref(state);
    return 0;
}

static int mem_get(void *state, const void *key, size_t klen, kl_buf *val)
{
    store *s = state;
    pthread_mutex_lock(&s->mu);
    kl__kv_item *it = kl__kv_find(&s->t, key, klen);
    int rc;
    if (!it) {
        rc = kl_seterr(KL_ENOTFOUND, "mem:%s: key not found", s->name ? s->name : "");
    } else {
        kl_buf_reset(val);
        rc = kl_buf_append(val, it->val, it->vlen);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int mem_put(void *state, const void *key, size_t klen, const void *val, size_t vlen)
{
    store *s = state;
    int64_t now = kl__now_ns();
    pthread_mutex_lock(&s->mu);
    int rc = kl__kv_put(&s->t, key, klen, val, vlen, now, NULL);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int mem_del(void *state, const void *key, size_t klen)
{
    store *s = state;
    pthread_mutex_lock(&s->mu);
    bool had = kl__kv_del(&s->t, key, klen);
    pthread_mutex_unlock(&s->mu);
    return had ? 0 : kl_seterr(KL_ENOTFOUND, "mem:%s: key not found", s->name ? s->name : "");
}

static int mem_contains(void *state, const void *key, size_t klen)
{
    store *s = state;
    pthread_mutex_lock(&s->mu);
    int r = kl__kv_find(&s->t, key, klen) != NULL;
    pthread_mutex_unlock(&s->mu);
    return r;
}

static int mem_count(void *state, size_t *out)
{
    store *s = state;
    pthread_mutex_lock(&s->mu);
    *out = s->t.live;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static int mem_stat(void *state, const void *key, size_t klen, kl_entry_info *out)
{
    store *s = state;
    pthread_mutex_lock(&s->mu);
    kl__kv_item *it = kl__kv_find(&s->t, key, klen);
    if (it) {
        out->stored_ns = it->stored_ns;
        out->size = it->klen + it->vlen;
    }
    pthread_mutex_unlock(&s->mu);
    return it ? 0 : kl_seterr(KL_ENOTFOUND, "mem:%s: key not found", s->name ? s->name : "");
}

static int mem_clear(void *state)
{
    store *s = state;
    pthread_mutex_lock(&s->mu);
    kl__kv_clear(&s->t);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static int mem_drop(void *state)
{
    store *s = state;
    mem_clear(s);
    if (!s->name)
        return 0;
    /* forget the name: the next open of it starts a new, empty store */
    pthread_mutex_lock(&names_mu);
    bool listed = false;
    for (store **pp = &names; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            listed = true;
            break;
        }
    pthread_mutex_unlock(&names_mu);
    if (listed)
        store_unref(s);
    return 0;
}

static int mem_describe(void *state, kl_buf *out)
{
    store *s = state;
    pthread_mutex_lock(&s->mu);
    int rc = kl_buf_printf(out, "shared=%s\nbytes_in_memory=%zu\n",
                           s->name ? "yes" : "no", s->t.bytes);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

typedef struct cursor {
    store *s;
    size_t pos;
} cursor;

static int mem_iter_new(void *state, void **out)
{
    store *s = state;
    cursor *c = calloc(1, sizeof *c);
    if (!c)
        return kl_seterr(KL_ENOMEM, "out of memory");
    c->s = s;
    pthread_mutex_lock(&names_mu);
    s->refs++;
    pthread_mutex_unlock(&names_mu);
    pthread_mutex_lock(&s->mu);
    s->t.cursors++;
    pthread_mutex_unlock(&s->mu);
    *out = c;
    return 0;
}

static int mem_iter_next(void *cur, kl_buf *key, kl_buf *val)
{
    cursor *c = cur;
    pthread_mutex_lock(&c->s->mu);
    kl__kv_item *it = kl__kv_next(&c->s->t, &c->pos);
    int rc = 0;
    if (it) {
        kl_buf_reset(key);
        rc = kl_buf_append(key, it->key, it->klen);
        if (!rc && val) {
            kl_buf_reset(val);
            rc = kl_buf_append(val, it->val, it->vlen);
        }
    }
    pthread_mutex_unlock(&c->s->mu);
    return rc ? rc : it != NULL;
}

static void mem_iter_free(void *cur)
{
    cursor *c = cur;
    pthread_mutex_lock(&c->s->mu);
    c->s->t.cursors--;
    pthread_mutex_unlock(&c->s->mu);
    store_unref(c->s);
    free(c);
}

const kl_archive_backend kl__backend_mem = {
    .version = KL_BACKEND_VERSION,
    .scheme = "mem",
    .flags = KL_BACKEND_THREADSAFE,
    .open = mem_open,
    .close = mem_close,
    .get = mem_get,
    .put = mem_put,
    .del = mem_del,
    .contains = mem_contains,
    .count = mem_count,
    .stat = mem_stat,
    .clear = mem_clear,
    .drop = mem_drop,
    .describe = mem_describe,
    .iter_new = mem_iter_new,
    .iter_next = mem_iter_next,
    .iter_free = mem_iter_free,
};
