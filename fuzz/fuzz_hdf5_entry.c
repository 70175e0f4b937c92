/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: one HDF5 entry (docs/hdf5.md) whose attributes and
 * dataset come from the input, in an HDF5 file held in memory (the core
 * driver, nothing on disk), read as the hdf5: and hdf5dir: archives read
 * an entry: open (klepto_entry, or klepto_key, klepto_kind, klepto_head
 * and klepto_xxh3; the dataset's type and shape), value (checked against
 * its checksum, an array's head against the dataset), info (with
 * klepto_stored_ns) and view, and the value decoded as verify does.  Any outcome is fine but a crash, a leak,
 * an unbounded allocation, or an error that is not a KL_E* code; junk is
 * KL_ECORRUPT (or KL_EVERSION for an unknown kind, KL_ETOOBIG).
 *
 * The input: one byte of flags, then the fields key, kind, head, key_repr
 * and data, each a 2-byte little-endian length and its bytes (a field cut
 * short takes what is left), then dims (4 bytes each, up to 3) and
 * stored_ns (8 bytes), then v3 (1 byte) and cut (2 bytes) from what
 * remains: v3 & 1 writes format version 3's klepto_entry (kind byte = the
 * kind field's first byte, then the checksum, the head and the key, cut to
 * `cut` bytes when not 0; v3 & 2 gives it a wrong head length) in place of
 * klepto_key, klepto_head and klepto_xxh3.  flags & 7 picks the dataset's
 * type (uint8 array, int64, float64, the bool enum, a fixed string, an
 * opaque, a float32 array, a variable-length string); 0x08 sets
 * klepto_xxh3 to the XXH3 of head + data (so the value passes its
 * checksum); 0x10 writes klepto_key (or klepto_entry) as a string; 0x20
 * leaves out klepto_kind; 0x40 writes the dataset contiguous (else compact
 * when small) without writing its data; 0x80 makes the dataspace null. */
#include "fuzz_common.h"

#include "archive/util/h5common.h"

#include <xxhash.h>

typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

static size_t take_field(reader *r, const uint8_t **out)
{
    size_t len = 0;
    if (r->n >= 2) {
        len = (size_t)r->p[0] | (size_t)r->p[1] << 8;
        r->p += 2;
        r->n -= 2;
    } else {
        r->n = 0;
    }
    if (len > r->n)
        len = r->n;
    *out = r->p;
    r->p += len;
    r->n -= len;
    return len;
}

static uint64_t take_le(reader *r, size_t bytes)
{
    uint64_t v = 0;
    for (size_t i = 0; i < bytes && r->n; i++, r->p++, r->n--)
        v |= (uint64_t)r->p[0] << (8 * i);
    return v;
}

static void attr_raw(hid_t obj, const char *name, hid_t type, hid_t space, const void *p)
{
    hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
        H5Awrite(a, type, p);
        H5Aclose(a);
    }
}

static void attr_bytes(hid_t obj, const char *name, const uint8_t *p, size_t n)
{
    hsize_t d = n;
    hid_t sp = n ? H5Screate_simple(1, &d, NULL) : H5Screate(H5S_NULL);
    attr_raw(obj, name, H5T_NATIVE_UINT8, sp, p);
    H5Sclose(sp);
}

static void attr_text(hid_t obj, const char *name, const uint8_t *p, size_t n)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, n ? n : 1);
    hid_t sp = H5Screate(H5S_SCALAR);
    char *s = calloc(1, n + 1);
    FUZZ_CHECK(s != NULL);
    memcpy(s, p, n);
    attr_raw(obj, name, t, sp, s);
    free(s);
    H5Sclose(sp);
    H5Tclose(t);
}

static hid_t dataset_type(unsigned pick, size_t n, bool *own)
{
    *own = false;
    switch (pick) {
    case 1: return H5T_STD_I64LE;
    case 2: return H5T_IEEE_F64LE;
    case 3: {
        hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
        int8_t f = 0, v = 1;
        H5Tenum_insert(t, "FALSE", &f);
        H5Tenum_insert(t, "TRUE", &v);
        *own = true;
        return t;
    }
    case 4: {
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, n ? n : 1);
        *own = true;
        return t;
    }
    case 5: *own = true; return H5Tcreate(H5T_OPAQUE, n ? n : 1);
    case 6: return H5T_IEEE_F32LE;
    case 7: {
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, H5T_VARIABLE);
        *own = true;
        return t;
    }
    default: return H5T_NATIVE_UINT8;
    }
}

static bool is_kl_error(int rc)
{
    return rc < 0 && rc >= KL_ERANGE;
}

/* Build the file and the entry "e" in it; the file's ID, or -1. */
static hid_t build(const uint8_t *data, size_t size)
{
    reader r = {data, size};
    unsigned flags = (unsigned)take_le(&r, 1);
    const uint8_t *key, *kind, *head, *repr, *body;
    size_t klen = take_field(&r, &key), kindlen = take_field(&r, &kind);
    size_t hlen = take_field(&r, &head), rlen = take_field(&r, &repr);
    size_t blen = take_field(&r, &body);
    unsigned rank = (unsigned)take_le(&r, 1) % 4;
    hsize_t dims[3] = {0};
    for (unsigned i = 0; i < rank; i++)
        dims[i] = take_le(&r, 4);
    int64_t ns = (int64_t)take_le(&r, 8);
    /* format version 3: klepto_entry in place of klepto_key, klepto_head
     * and klepto_xxh3 (kind byte = the kind field's first byte), cut to
     * cut bytes when not 0 */
    unsigned v3 = (unsigned)take_le(&r, 1);
    size_t cut = (size_t)take_le(&r, 2);

    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_core(fapl, 1 << 16, false);
    hid_t f = H5Fcreate("fuzz-hdf5-entry", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0)
        return -1;
    bool own;
    unsigned pick = flags & 7;
    size_t es = pick == 1 || pick == 2 ? 8 : pick == 6 ? 4 : pick == 4 || pick == 5 ? blen : 1;
    hid_t t = dataset_type(pick, blen, &own);
    hid_t sp;
    if (flags & 0x80)
        sp = H5Screate(H5S_NULL);
    else if (pick >= 1 && pick <= 5)
        sp = H5Screate(H5S_SCALAR);
    else if (rank)
        sp = H5Screate_simple((int)rank, dims, NULL);
    else {
        hsize_t d = es ? blen / es : 0;
        sp = d ? H5Screate_simple(1, &d, NULL) : H5Screate(H5S_NULL);
    }
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    if (!(flags & 0x40) && blen <= 4096)
        H5Pset_layout(dcpl, H5D_COMPACT);
    hid_t d = sp >= 0 && t >= 0 ? H5Dcreate2(f, "e", t, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT) : -1;
    if (d >= 0 && !(flags & 0x40) && pick != 7) {
        /* the elements the dataspace holds, from the input (zeros after) */
        hssize_t n = H5Sget_select_npoints(sp);
        size_t want = n > 0 && H5Sget_simple_extent_type(sp) != H5S_NULL
                          ? (size_t)n * (es ? es : 1)
                          : 0;
        if (want && want <= (1u << 20)) {
            uint8_t *buf = calloc(1, want);
            FUZZ_CHECK(buf != NULL);
            memcpy(buf, body, blen < want ? blen : want);
            H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
            free(buf);
        }
    }
    if (d >= 0) {
        if (v3 & 1)
            ;
        else if (flags & 0x10)
            attr_text(d, "klepto_key", key, klen);
        else
            attr_bytes(d, "klepto_key", key, klen);
        if (!(flags & 0x20))
            attr_text(d, "klepto_kind", kind, kindlen);
        if (hlen && !(v3 & 1))
            attr_bytes(d, "klepto_head", head, hlen);
        if (rlen)
            attr_text(d, "klepto_key_repr", repr, rlen);
        hid_t s1 = H5Screate(H5S_SCALAR);
        attr_raw(d, "klepto_stored_ns", H5T_STD_I64LE, s1, &ns);
        uint64_t h = 0;
        if (flags & 0x08) {
            XXH3_state_t *x = XXH3_createState();
            FUZZ_CHECK(x != NULL);
            XXH3_64bits_reset(x);
            XXH3_64bits_update(x, head, hlen);
            XXH3_64bits_update(x, body, blen);
            h = XXH3_64bits_digest(x);
            XXH3_freeState(x);
        } else {
            h = ns ^ 0x9e3779b97f4a7c15ull;
        }
        if (v3 & 1) {
            size_t n = 10 + hlen + klen;
            uint8_t *rec = malloc(n);
            FUZZ_CHECK(rec != NULL);
            rec[0] = kindlen ? kind[0] : 0;
            for (int i = 0; i < 8; i++)
                rec[1 + i] = (uint8_t)(h >> (8 * i));
            rec[9] = (uint8_t)(v3 & 2 ? hlen >> 1 : hlen); /* or a wrong length */
            memcpy(rec + 10, head, hlen);
            memcpy(rec + 10 + hlen, key, klen);
            if (flags & 0x10)
                attr_text(d, "klepto_entry", rec, cut && cut < n ? cut : n);
            else
                attr_bytes(d, "klepto_entry", rec, cut && cut < n ? cut : n);
            free(rec);
        } else {
            attr_raw(d, "klepto_xxh3", H5T_STD_U64LE, s1, &h);
        }
        H5Sclose(s1);
        H5Dclose(d);
    }
    H5Pclose(dcpl);
    if (sp >= 0)
        H5Sclose(sp);
    if (own && t >= 0)
        H5Tclose(t);
    H5Eclear2(H5E_DEFAULT);
    return f;
}

static int fuzz_hdf5_entry_one(const uint8_t *data, size_t size)
{
    kl__h5_enter();
    hid_t f = build(data, size);
    if (f < 0) {
        kl__h5_leave();
        return 0;
    }
    kl_buf key = KL_BUF_INIT, val = KL_BUF_INIT;
    kl__h5_entry e;
    int rc = kl__h5_entry_open(f, "e", &key, &e, "fuzz");
    FUZZ_CHECK(rc == 0 || is_kl_error(rc));
    if (!rc) {
        rc = kl__h5_entry_value(&e, &val);
        FUZZ_CHECK(rc == 0 || rc == KL_ECORRUPT || rc == KL_ETOOBIG || rc == KL_ENOMEM);
        /* a value that reads back is the one checksummed: verify decodes it */
        if (!rc) {
            kl_value v;
            if (kl_decode(val.data, val.len, &v) == 0)
                kl_value_free(&v);
        }
        kl_entry_info info;
        rc = kl__h5_entry_answer(&e, KL_H5_INFO, key.len, -1, &info);
        FUZZ_CHECK(rc == 0 || rc == KL_ECORRUPT);
        kl_view *view = NULL;
        rc = kl__h5_entry_answer(&e, KL_H5_VIEW, key.len, -1, &view);
        FUZZ_CHECK(rc == 0 || is_kl_error(rc));
        if (!rc) {
            FUZZ_CHECK(view != NULL);
            kl_view_release(view);
        }
        kl__h5_entry_close(&e);
    }
    H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    kl__h5_leave();
    kl_buf_free(&key);
    kl_buf_free(&val);
    return 0;
}

#ifndef KL_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_hdf5_entry_one(data, size);
}
#endif
