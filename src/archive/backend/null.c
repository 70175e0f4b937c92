/* SPDX-License-Identifier: BSD-3-Clause */
/* null: — stores nothing (klepto's null_archive): puts are accepted and
 * forgotten, every read misses. */
#include "archive/backends.h"
#include "internal.h"

static int null_open(void **state, const kl_url *url, const kl_archive_opts *opts)
{
    (void)url;
    (void)opts;
    *state = NULL;
    return 0;
}
static int null_close(void *state) { return 0; }
static int null_get(void *state, const void *key, size_t klen, kl_buf *val)
{
    return kl_seterr(KL_ENOTFOUND, "null: stores nothing");
}
static int null_put(void *state, const void *key, size_t klen, const void *val, size_t vlen)
{
    return 0;
}
static int null_del(void *state, const void *key, size_t klen)
{
    return kl_seterr(KL_ENOTFOUND, "null: stores nothing");
}
static int null_contains(void *state, const void *key, size_t klen) { return 0; }
static int null_count(void *state, size_t *out)
{
    *out = 0;
    return 0;
}
static int null_clear(void *state) { return 0; }
static int null_drop(void *state) { return 0; }
static int null_describe(void *state, kl_buf *out) { return kl_buf_append_str(out, "stores=nothing\n"); }
static int null_iter_new(void *state, void **cursor)
{
    *cursor = NULL;
    return 0;
}
static int null_iter_next(void *cursor, kl_buf *key, kl_buf *val) { return 0; }
static void null_iter_free(void *cursor) {}

const kl_archive_backend kl__backend_null = {
    .version = KL_BACKEND_VERSION,
    .scheme = "null",
    .flags = KL_BACKEND_THREADSAFE,
    .open = null_open,
    .close = null_close,
    .get = null_get,
    .put = null_put,
    .del = null_del,
    .contains = null_contains,
    .count = null_count,
    .clear = null_clear,
    .drop = null_drop,
    .describe = null_describe,
    .iter_new = null_iter_new,
    .iter_next = null_iter_next,
    .iter_free = null_iter_free,
};
