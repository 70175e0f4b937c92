/* SPDX-License-Identifier: BSD-3-Clause */
/* The growable byte buffer used to hand variable-size results to callers. */
#include "internal.h"
#include "klepto/codec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int kl_buf_reserve(kl_buf *b, size_t extra)
{
    if (extra <= b->cap - b->len)
        return 0;
    if (extra > SIZE_MAX / 2 - b->len)
        return kl_seterr(KL_ENOMEM, "buffer of %zu bytes too large", b->len + extra);
    size_t need = b->len + extra, cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return kl_seterr(KL_ENOMEM, "out of memory growing a buffer to %zu bytes", cap);
    b->data = p;
    b->cap = cap;
    return 0;
}

int kl_buf_append(kl_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    int rc = kl_buf_reserve(b, n);
    if (rc)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int kl__buf_fill(kl_buf *out, kl__into_fn into, const void *ctx, const void *arg)
{
    size_t room = 128, need = 0;
    for (;;) {
        int rc = kl_buf_reserve(out, room);
        if (rc)
            return rc;
        if ((rc = into(ctx, arg, out->data + out->len, out->cap - out->len, &need)))
            return rc;
        if (need <= out->cap - out->len) {
            out->len += need;
            return 0;
        }
        room = need;
    }
}

int kl_buf_append_str(kl_buf *b, const char *s) { return kl_buf_append(b, s, strlen(s)); }

int kl_buf_append_utf8(kl_buf *b, uint32_t cp)
{
    uint8_t u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (uint8_t)(0xc0 | cp >> 6);
        u[1] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (uint8_t)(0xe0 | cp >> 12);
        u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (uint8_t)(0xf0 | cp >> 18);
        u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return kl_buf_append(b, u, n);
}

int kl_buf_printf(kl_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return kl_seterr(KL_EINVAL, "bad format string");
    int rc = kl_buf_reserve(b, (size_t)n + 1);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

const char *kl_buf_cstr(kl_buf *b)
{
    if (kl_buf_reserve(b, 1))
        return NULL;
    b->data[b->len] = '\0';
    return (const char *)b->data;
}

void kl_buf_reset(kl_buf *b) { b->len = 0; }

void kl_buf_free(kl_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
