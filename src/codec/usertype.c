/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * User types (usertype.h): the registry of names, and objects as values —
 * [name, layout version, value] arrays flagged KL_VALUE_OBJECT, which the codec
 * writes under CBOR tag 27.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "klepto/usertype.h"

#define TYPE_NAME_MAX 64
#define REGISTRY_MAX 256

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const kl_usertype *registry[REGISTRY_MAX];
static size_t nregistered;

static const kl_usertype *find_locked(const char *name)
{
    for (size_t i = 0; i < nregistered; i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

int kl_type_register(const kl_usertype *t)
{
    if (!t)
        return kl_seterr(KL_EINVAL, "user type: NULL descriptor");
    int rc = kl__opts_version_check(t->version, KL_USERTYPE_VERSION, "kl_usertype");
    if (rc)
        return rc;
    if (!t->name || !*t->name || strlen(t->name) > TYPE_NAME_MAX || !t->encode ||
        !t->decode || !t->size)
        return kl_seterr(KL_EINVAL, "user type '%s': needs a name of 1 to %d bytes, a size, "
                                    "and encode and decode functions",
                         t->name ? t->name : "(null)", TYPE_NAME_MAX);
    pthread_mutex_lock(&lock);
    const kl_usertype *old = find_locked(t->name);
    if (old && old != t &&
        (old->layout != t->layout || old->size != t->size || old->encode != t->encode ||
         old->decode != t->decode))
        rc = kl_seterr(KL_EINVAL,
                       "user type '%s' is registered already with another codec (layout %u, "
                       "%zu bytes; now layout %u, %zu bytes)",
                       t->name, old->layout, old->size, t->layout, t->size);
    else if (!old && nregistered == REGISTRY_MAX)
        rc = kl_seterr(KL_ENOMEM, "user type '%s': the registry holds %d types at most",
                       t->name, REGISTRY_MAX);
    else if (!old)
        registry[nregistered++] = t;
    pthread_mutex_unlock(&lock);
    return rc;
}

const kl_usertype *kl_type_find(const char *name)
{
    if (!name)
        return NULL;
    pthread_mutex_lock(&lock);
    const kl_usertype *t = find_locked(name);
    pthread_mutex_unlock(&lock);
    return t;
}

void kl_enc_object(kl_enc *e, const kl_usertype *t, const void *obj)
{
    if (e->err)
        return;
    if (t->version < 1 || t->version > KL_USERTYPE_VERSION) {
        e->err = kl__opts_version_check(t->version, KL_USERTYPE_VERSION, "kl_usertype");
        return;
    }
    kl_enc_tag(e, 27);
    kl_enc_array_head(e, 3);
    kl_enc_text(e, t->name, strlen(t->name));
    kl_enc_int(e, t->layout);
    int rc = t->encode(e, obj);
    if (rc && !e->err)
        e->err = rc < 0 ? rc : KL_EINVAL;
    if (rc)
        kl_seterr(e->err, "user type '%s': encode failed (%d)", t->name, rc);
    else if (e->err)
        kl_seterr_prefix(e->err, "user type '%s': encode", t->name);
}

int kl_value_object(kl_value *out, const kl_usertype *t, const void *obj)
{
    uint8_t stack[256];
    kl_enc e;
    kl_enc_init(&e, stack, sizeof stack, 0);
    kl_enc_object(&e, t, obj);
    if (e.err)
        return e.err;
    uint8_t *p = stack;
    if (e.len > sizeof stack) {
        size_t need = e.len;
        if (!(p = malloc(need)))
            return kl_seterr(KL_ENOMEM, "user type '%s': out of memory", t->name);
        kl_enc_init(&e, p, need, 0);
        kl_enc_object(&e, t, obj);
        if (e.err || e.len != need) { /* an encode that writes differently each time */
            free(p);
            return kl_seterr(e.err ? e.err : KL_ECORRUPT,
                             "user type '%s': encode wrote %zu bytes, then %zu", t->name, need,
                             e.len);
        }
    }
    int rc = kl_decode(p, e.len, out);
    if (rc)
        rc = kl_seterr_prefix(rc, "user type '%s': encode wrote bytes that do not decode",
                              t->name);
    if (p != stack)
        free(p);
    return rc;
}

int kl_value_object_get(const kl_value *v, const kl_usertype *t, void *obj)
{
    int vrc = kl__opts_version_check(t->version, KL_USERTYPE_VERSION, "kl_usertype");
    if (vrc)
        return vrc;
    if (v->type != KL_ARRAY || !(v->flags & KL_VALUE_OBJECT) || v->u.a.len != 3 ||
        v->u.a.items[0].type != KL_TEXT ||
        v->u.a.items[0].u.s.len != strlen(t->name) ||
        memcmp(v->u.a.items[0].u.s.ptr, t->name, v->u.a.items[0].u.s.len) != 0)
        return kl_seterr(KL_ETYPE, "the value is not an object of type '%s'", t->name);
    if (v->u.a.items[1].type != KL_INT || v->u.a.items[1].u.i != (int64_t)t->layout)
        return kl_seterr(KL_EVERSION, "the object of type '%s' has layout %lld, not %u",
                         t->name,
                         v->u.a.items[1].type == KL_INT ? (long long)v->u.a.items[1].u.i : -1LL,
                         t->layout);
    void *tmp = malloc(t->size);
    if (!tmp)
        return kl_seterr(KL_ENOMEM, "user type '%s': out of memory", t->name);
    memcpy(tmp, obj, t->size); /* fields decode leaves alone keep their values */
    kl_errclear();
    int rc = t->decode(&v->u.a.items[2], tmp);
    if (rc && *kl_errmsg())
        rc = kl_seterr_prefix(rc < 0 ? rc : KL_ETYPE, "user type '%s': decode failed", t->name);
    else if (rc)
        rc = kl_seterr(rc < 0 ? rc : KL_ETYPE, "user type '%s': decode failed (%d)", t->name, rc);
    else
        memcpy(obj, tmp, t->size);
    free(tmp);
    return rc;
}
