/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: a dir: entry file (docs/formats.md) made of arbitrary
 * bytes, at the name of a key, in an archive opened read-only and walked
 * (and the key read directly).  When the input's last byte is odd, its
 * header gets the right magic and checksum first, so that mutations reach
 * the lengths, flags and compressed values behind it. */
#include "fuzz_archive_common.h"

#include <sys/stat.h>
#include <xxhash.h>

/* A dir: archive with one entry, made once; the entry's path. */
static const char *entry_path(const char **url_out)
{
    static char url[400], entry[600];
    if (!url[0]) {
        snprintf(url, sizeof url, "dir:%s/d", fuzz_folder());
        kl_archive *ar = NULL;
        static const uint8_t k[] = {0x61, 'k'}, v[] = {0x61, 'v'};
        FUZZ_CHECK(kl_archive_open(&ar, url, NULL) == 0);
        FUZZ_CHECK(kl_archive_put(ar, k, sizeof k, v, sizeof v) == 0);
        FUZZ_CHECK(kl_archive_close(ar) == 0);
        /* the entry of key "k" (XXH3-128 of its bytes names it) */
        char cmd[700];
        snprintf(cmd, sizeof cmd, "ls %s/d/*/* 2>/dev/null", fuzz_folder());
        FILE *p = popen(cmd, "r");
        FUZZ_CHECK(p && fgets(entry, sizeof entry, p));
        pclose(p);
        entry[strcspn(entry, "\n")] = '\0';
    }
    *url_out = url;
    return entry;
}

static int fuzz_dir_entry_one(const uint8_t *data, size_t size)
{
    const char *url;
    const char *entry = entry_path(&url);
    unlink(entry);
    uint8_t *copy = malloc(size ? size : 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, data, size);
    if (size >= 64 && (data[size - 1] & 1)) {
        memcpy(copy, "KLDE", 4);
        uint64_t h = XXH3_64bits(copy, 56);
        for (int i = 0; i < 8; i++)
            copy[56 + i] = (uint8_t)(h >> (8 * i));
    }
    fuzz_write(entry, copy, size);
    free(copy);
    fuzz_walk(url);
    kl_archive_opts o = KL_ARCHIVE_OPTS_INIT;
    o.read_only = true;
    kl_archive *ar = NULL;
    if (kl_archive_open(&ar, url, &o) == 0) {
        static const uint8_t k[] = {0x61, 'k'};
        kl_buf v = KL_BUF_INIT;
        int rc = kl_archive_get(ar, k, sizeof k, &v);
        FUZZ_CHECK(rc == 0 || rc == KL_ECORRUPT || rc == KL_ENOTFOUND || rc == KL_EVERSION);
        kl_view *view = NULL;
        rc = kl_archive_get_view(ar, k, sizeof k, &view);
        FUZZ_CHECK(rc == 0 || fuzz_is_kl_error(rc));
        kl_view_release(view);
        kl_buf_free(&v);
        kl_archive_close(ar);
    }
    return 0;
}

#ifndef KL_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_dir_entry_one(data, size);
}
#endif
