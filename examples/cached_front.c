/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A cached front (klepto's cached=True): an in-memory dictionary in front
 * of an archive.  Puts stay in memory until dumped; a new front loads what
 * an earlier one dumped.
 *
 *   ./cached_front [FOLDER]      (default: the current folder)
 *
 * The archive is the folder FOLDER/front-archive (a dir: archive); any
 * archive URL works the same way.
 */
#include <stdio.h>
#include <string.h>

#include "klepto.h"

static int fail(const char *what)
{
    fprintf(stderr, "cached_front: %s: %s\n", what, kl_errmsg());
    return 1;
}

/* Archives store bytes: keys and values are encoded values (codec.h).
 * Here both are written as Python literals, parsed, then encoded. */
static int encode_literal(const char *literal, kl_buf *out)
{
    kl_value v;
    int rc = kl_parse(literal, strlen(literal), &v);
    if (rc == 0) {
        rc = kl_encode(out, &v, 0);
        kl_value_free(&v);
    }
    return rc;
}

static int put_literal(kl_archive *ar, const char *key, const char *value)
{
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
    int rc = encode_literal(key, &k);
    if (rc == 0)
        rc = encode_literal(value, &v);
    if (rc == 0)
        rc = kl_archive_put(ar, k.data, k.len, v.data, v.len);
    kl_buf_free(&k);
    kl_buf_free(&v);
    return rc;
}

/* Print ar[key] as a Python literal. */
static int show(kl_archive *ar, const char *key)
{
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT, text = KL_BUF_INIT;
    kl_value value;
    int rc = encode_literal(key, &k);
    if (rc == 0)
        rc = kl_archive_get(ar, k.data, k.len, &v); /* KL_ENOTFOUND when absent */
    if (rc == 0 && (rc = kl_decode(v.data, v.len, &value)) == 0) {
        rc = kl_repr(&text, &value);
        kl_value_free(&value);
    }
    if (rc == 0)
        printf("  [%s] = %s\n", key, kl_buf_cstr(&text));
    kl_buf_free(&k);
    kl_buf_free(&v);
    kl_buf_free(&text);
    return rc;
}

/* How many entries the front holds in memory, how many of them are not
 * yet in the archive, and how many the archive itself holds. */
static int counts(kl_archive *front, const char *when)
{
    size_t entries, unsaved, archived;
    int rc = kl_cached_mem_count(front, &entries, &unsaved);
    if (rc == 0)
        rc = kl_archive_count(kl_cached_backing(front), &archived);
    if (rc == 0)
        printf("%s: memory=%zu unsaved=%zu archive=%zu\n", when, entries, unsaved, archived);
    return rc;
}

int main(int argc, char **argv)
{
    const char *folder = argc > 1 ? argv[1] : ".";
    char url[4096];
    snprintf(url, sizeof url, "dir:%s/front-archive", folder);

    /* 1. A front over an archive opened by hand: kl_cached_new takes the
     *    archive over (closing the front closes it). */
    kl_archive *backing, *front;
    if (kl_archive_open(&backing, url, NULL) != 0)
        return fail(url);
    if (kl_archive_clear(backing) != 0) /* start empty: each run prints the same */
        return fail(url);
    if (kl_cached_new(&front, backing, NULL) != 0)
        return fail("kl_cached_new");

    /* Puts of new keys go to memory only... */
    if (put_literal(front, "'alpha'", "1.5") || put_literal(front, "'beta'", "[1, 2, 3]") ||
        put_literal(front, "('gamma', 7)", "{'ok': True}"))
        return fail("put");
    if (counts(front, "after 3 puts"))
        return fail("count");

    /* ...until dumped to the archive (kl_cached_sync also would). */
    size_t dumped;
    if (kl_cached_dump(front, 0, NULL, NULL, &dumped) != 0)
        return fail("dump");
    printf("dumped %zu entries\n", dumped);
    if (counts(front, "after dump"))
        return fail("count");
    if (kl_archive_close(front) != 0)
        return fail("close");

    /* 2. A new front, opened by URL with ?cached=true, starts with empty
     *    memory; load reads the archive's entries into it. */
    char cached_url[4200];
    snprintf(cached_url, sizeof cached_url, "%s?cached=true", url);
    if (kl_archive_open(&front, cached_url, NULL) != 0)
        return fail(cached_url);
    if (counts(front, "new front"))
        return fail("count");
    size_t loaded;
    if (kl_cached_load(front, 0, NULL, NULL, &loaded) != 0)
        return fail("load");
    printf("loaded %zu entries\n", loaded);
    if (counts(front, "after load"))
        return fail("count");
    if (show(front, "'alpha'") || show(front, "'beta'") || show(front, "('gamma', 7)"))
        return fail("get");
    return kl_archive_close(front) == 0 ? 0 : fail("close");
}
