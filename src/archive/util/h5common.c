/* SPDX-License-Identifier: BSD-3-Clause */
/* See h5common.h.  One entry is one dataset: a typed numeric array or a
 * basic value is stored natively (an array's dtype and shape,
 * little-endian), so any HDF5 reader gets it; any other value is its
 * canonical CBOR bytes in a uint8 dataset.  Attributes on the dataset
 * carry what the dataset alone cannot: the exact key bytes, how to
 * rebuild the value's bytes, when it was stored and a checksum of the
 * value (HDF5 checksums its metadata in the 1.8 format, but not raw
 * data). */
#define _GNU_SOURCE
#include "archive/util/h5common.h"
#include "internal.h"
#include "klepto/codec.h"

#include <math.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define COMPACT_MAX 4096      /* smaller values live in the object header */
#define MAP_MIN (64 * 1024)   /* arrays from this size are mapped by views */
#define ALIGN 64
#define NATIVE_TEXT_MAX (16u << 20) /* longer text and bytes stay CBOR bytes */

static pthread_mutex_t h5_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t h5_once = PTHREAD_ONCE_INIT;
static _Thread_local bool h5_quiet;

/* fork() waits until no thread is inside HDF5, so the child inherits a
 * quiescent library and a free mutex */
static void fork_prepare(void) { pthread_mutex_lock(&h5_mutex); }
static void fork_done(void) { pthread_mutex_unlock(&h5_mutex); }
static void h5_init(void) { pthread_atfork(fork_prepare, fork_done, fork_done); }

void kl__h5_enter(void)
{
    pthread_once(&h5_once, h5_init);
    pthread_mutex_lock(&h5_mutex);
    if (!h5_quiet) {
        /* per thread in thread-safe builds of HDF5, global otherwise */
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        h5_quiet = true;
    }
}

void kl__h5_leave(void) { pthread_mutex_unlock(&h5_mutex); }

/* ---- errors ------------------------------------------------------------ */

typedef struct walk {
    char desc[300];
    int err;
} walk;

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *arg)
{
    walk *w = arg;
    if (!e->desc)
        return 0;
    const char *m = strstr(e->desc, "error message = '");
    if (n == 0 && m) {
        /* "file write failed: time = ..., errno = 28, error message = 'No
         * space left on device', ...": keep the what and the why */
        const char *cut = strchr(e->desc, ':');
        if (!cut || cut > m)
            cut = strchr(e->desc, ',');
        const char *end = strchr(m + 17, '\'');
        int what = cut && cut < m ? (int)(cut - e->desc) : 0;
        int why = end ? (int)(end - m - 17) : (int)strlen(m + 17);
        snprintf(w->desc, sizeof w->desc, "%.*s%s%.*s", what, e->desc, what ? ": " : "", why,
                 m + 17);
    } else if (n == 0) {
        snprintf(w->desc, sizeof w->desc, "%s", e->desc);
        for (char *c = w->desc; *c; c++)
            if (*c == '\n')
                *c = ' ';
    }
    const char *p = strstr(e->desc, "errno = ");
    if (p && !w->err)
        w->err = atoi(p + 8);
    return 0;
}

static void walk_stack(walk *w)
{
    memset(w, 0, sizeof *w);
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, w);
}

int kl__h5_errno(void)
{
    walk w;
    walk_stack(&w);
    return w.err;
}

int kl__h5_fail(int code, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    walk w;
    walk_stack(&w);
    H5Eclear2(H5E_DEFAULT);
    if (!code)
        code = w.err ? kl__errno_code(w.err) : KL_EIO;
    if (code == KL_ENOTFOUND && w.err != ENOENT)
        code = KL_EIO;
    if (!w.desc[0])
        return kl_seterr(code, "%s", msg);
    return kl_seterr(code, "%s: HDF5: %s", msg, w.desc);
}

/* ---- files ------------------------------------------------------------- */

hid_t kl__h5_fapl(bool locking)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0)
        return fapl;
    if (H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18) < 0 ||
        H5Pset_alignment(fapl, MAP_MIN, ALIGN) < 0 ||
        H5Pset_file_locking(fapl, locking, true) < 0) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

int kl__h5_file_fd(hid_t file, hid_t fapl)
{
    void *h = NULL;
    if (H5Fget_vfd_handle(file, fapl, &h) < 0 || !h) {
        H5Eclear2(H5E_DEFAULT);
        return -1;
    }
    return *(int *)h;
}

int kl__h5_header(hid_t loc, const char *name, H5O_hdr_info_t *out)
{
    herr_t r;
#if H5_VERSION_GE(1, 12, 0)
    H5O_native_info_t ni;
    r = name ? H5Oget_native_info_by_name(loc, name, &ni, H5O_NATIVE_INFO_HDR, H5P_DEFAULT)
             : H5Oget_native_info(loc, &ni, H5O_NATIVE_INFO_HDR);
    if (r >= 0)
        *out = ni.hdr;
#else
    H5O_info_t oi;
    r = name ? H5Oget_info_by_name2(loc, name, &oi, H5O_INFO_HDR, H5P_DEFAULT)
             : H5Oget_info2(loc, &oi, H5O_INFO_HDR);
    if (r >= 0)
        *out = oi.hdr;
#endif
    return r < 0 ? -1 : 0;
}

int kl__h5_close_written(hid_t file, hid_t fapl, int rc, const char *where)
{
    if (!rc && H5Fflush(file, H5F_SCOPE_LOCAL) < 0)
        rc = kl__h5_fail(0, "%s: write", where);
    if (rc) {
        /* abandoned: whatever HDF5 still writes (metadata, the final
         * truncate) goes to memory, where it cannot fail for want of disk */
        int fd = kl__h5_file_fd(file, fapl);
        int mem = memfd_create("klepto-abandoned", MFD_CLOEXEC);
        if (fd >= 0 && mem >= 0)
            dup3(mem, fd, O_CLOEXEC);
        if (mem >= 0)
            close(mem);
    }
    if (H5Fclose(file) < 0 && !rc)
        rc = kl__h5_fail(0, "%s: close", where);
    H5Eclear2(H5E_DEFAULT);
    return rc;
}

/* ---- attributes -------------------------------------------------------- */

static int attr_write(hid_t obj, const char *name, hid_t type, hid_t space, const void *p,
                      const char *where)
{
    hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    int rc = 0;
    if (a < 0 || (p && H5Awrite(a, type, p) < 0))
        rc = kl__h5_fail(0, "%s: write attribute %s", where, name);
    /* a close may be where HDF5 writes what it held back */
    if (a >= 0 && H5Aclose(a) < 0 && !rc)
        rc = kl__h5_fail(0, "%s: close attribute %s", where, name);
    return rc;
}

/* A property list, dataspace or datatype made once per process by make
 * and kept in *id (entries are written by the thousand; the caller holds
 * kl__h5_enter).  -1 when it cannot be made. */
static hid_t kept(hid_t *id, hid_t (*make)(void))
{
    if (*id >= 0 && H5Iis_valid(*id) > 0)
        return *id;
    return *id = make();
}

static hid_t make_scalar_space(void) { return H5Screate(H5S_SCALAR); }

static int attr_scalar(hid_t obj, const char *name, hid_t type, const void *p, const char *where)
{
    static hid_t scalar = -1;
    hid_t sp = kept(&scalar, make_scalar_space);
    if (sp < 0)
        return kl__h5_fail(0, "%s: dataspace", where);
    return attr_write(obj, name, type, sp, p, where);
}

/* uint8[n]; an empty one has a null dataspace */
static int attr_bytes(hid_t obj, const char *name, const void *p, size_t n, const char *where)
{
    hsize_t dim = n;
    hid_t sp = n ? H5Screate_simple(1, &dim, NULL) : H5Screate(H5S_NULL);
    if (sp < 0)
        return kl__h5_fail(0, "%s: dataspace", where);
    int rc = attr_write(obj, name, H5T_STD_U8LE, sp, n ? p : NULL, where);
    H5Sclose(sp);
    return rc;
}

static int attr_string(hid_t obj, const char *name, const char *s, const char *where)
{
    /* the types of short strings (klepto_kind's) are kept, as in kept() */
    static hid_t short_types[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                    -1, -1, -1, -1, -1, -1, -1, -1};
    size_t n = strlen(s) + 1;
    hid_t *keep = n < 16 ? &short_types[n] : NULL;
    if (keep && *keep >= 0 && H5Iis_valid(*keep) > 0)
        return attr_scalar(obj, name, *keep, s, where);
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0 || H5Tset_size(t, n) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0) {
        if (t >= 0)
            H5Tclose(t);
        return kl__h5_fail(0, "%s: string type", where);
    }
    int rc = attr_scalar(obj, name, t, s, where);
    if (keep)
        *keep = t;
    else
        H5Tclose(t);
    return rc;
}

/* Opened attribute `name` of obj, or a KL_ECORRUPT naming what. */
static hid_t attr_open(hid_t obj, const char *name, const char *where, const char *what)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a >= 0)
        return a;
    H5Eclear2(H5E_DEFAULT);
    if (H5Aexists(obj, name) == 0)
        kl_seterr(KL_ECORRUPT, "%s: %s: attribute %s missing", where, what, name);
    else
        kl__h5_fail(KL_ECORRUPT, "%s: %s: attribute %s unreadable", where, what, name);
    return -1;
}

/* Elements of attribute a of type ft (0 for a null dataspace), -1 on
 * error: its bytes over its type's, which HDF5 has at hand (asking for
 * its dataspace costs a copy of it, a third of a read's attribute work). */
static hssize_t attr_count(hid_t a, hid_t ft)
{
    size_t es = ft >= 0 ? H5Tget_size(ft) : 0;
    if (!es)
        return -1;
    hsize_t bytes = H5Aget_storage_size(a);
    return bytes % es ? -1 : (hssize_t)(bytes / es);
}

/* An opened attribute with its file type and element count. */
typedef struct attr {
    hid_t a, ft;
    hssize_t n;
    const char *name, *where, *what; /* for messages */
} attr;

/* Open attribute `name` of obj: KL_ECORRUPT naming `what` when it is
 * missing or unreadable.  attr_done() closes it. */
static int attr_get(hid_t obj, const char *name, const char *where, const char *what, attr *t)
{
    t->name = name;
    t->where = where;
    t->what = what;
    t->a = attr_open(obj, name, where, what);
    if (t->a < 0)
        return KL_ECORRUPT;
    t->ft = H5Aget_type(t->a);
    t->n = attr_count(t->a, t->ft);
    return 0;
}

/* Its type is of class cls with elements of `size` bytes (0: any). */
static bool attr_is(const attr *t, H5T_class_t cls, size_t size)
{
    return t->ft >= 0 && H5Tget_class(t->ft) == cls && (!size || H5Tget_size(t->ft) == size);
}

static int attr_wrong(const attr *t, const char *kind)
{
    return kl_seterr(KL_ECORRUPT, "%s: %s: attribute %s is not %s", t->where, t->what, t->name,
                     kind);
}

/* Read it as mtype into p. */
static int attr_fetch(attr *t, hid_t mtype, void *p)
{
    if (H5Aread(t->a, mtype, p) < 0)
        return kl__h5_fail(KL_ECORRUPT, "%s: %s: read attribute %s", t->where, t->what, t->name);
    return 0;
}

static void attr_done(attr *t)
{
    if (t->ft >= 0)
        H5Tclose(t->ft);
    H5Aclose(t->a);
    H5Eclear2(H5E_DEFAULT);
}

/* A fixed-length string attribute into out (NUL-terminated). */
static int attr_read_string(hid_t obj, const char *name, char *out, size_t cap, const char *where,
                            const char *what)
{
    attr t;
    int rc = attr_get(obj, name, where, what, &t);
    if (rc)
        return rc;
    size_t sz = t.ft >= 0 ? H5Tget_size(t.ft) : 0;
    if (!attr_is(&t, H5T_STRING, 0) || H5Tis_variable_str(t.ft) || sz == 0 || sz >= cap ||
        t.n != 1) {
        rc = attr_wrong(&t, "a short string");
    } else {
        /* read as stored: sz bytes, the NUL (or padding) included */
        memset(out, 0, cap);
        rc = attr_fetch(&t, t.ft, out);
    }
    attr_done(&t);
    return rc;
}

/* One integer-class scalar attribute read as mtype into out. */
static int attr_read_scalar(hid_t obj, const char *name, hid_t mtype, void *out, const char *where,
                            const char *what)
{
    attr t;
    int rc = attr_get(obj, name, where, what, &t);
    if (rc)
        return rc;
    if (!attr_is(&t, H5T_INTEGER, 8) || t.n != 1)
        rc = attr_wrong(&t, "one 64-bit integer");
    else
        rc = attr_fetch(&t, mtype, out);
    attr_done(&t);
    return rc;
}

/* Opened attribute t as a uint8 array into out (replaced), at most max
 * bytes; closes it. */
static int attr_take_bytes(attr *t0, kl_buf *out, size_t max)
{
    attr t = *t0;
    int rc = 0;
    if (!attr_is(&t, H5T_INTEGER, 1) || t.n < 0 || (size_t)t.n > max)
        rc = attr_wrong(&t, "a byte string");
    kl_buf_reset(out);
    if (!rc && t.n > 0 && !(rc = kl_buf_reserve(out, (size_t)t.n)) &&
        !(rc = attr_fetch(&t, H5T_NATIVE_UINT8, out->data)))
        out->len = (size_t)t.n;
    attr_done(&t);
    return rc;
}

/* A uint8 array attribute into out (replaced); at most max bytes. */
static int attr_read_bytes(hid_t obj, const char *name, kl_buf *out, size_t max, const char *where,
                           const char *what)
{
    attr t;
    int rc = attr_get(obj, name, where, what, &t);
    return rc ? rc : attr_take_bytes(&t, out, max);
}

/* ---- the marker -------------------------------------------------------- */

int kl__h5_mark(hid_t file, const char *format, const char *where)
{
    int32_t ver = KL_H5_VERSION;
    int rc = attr_string(file, "klepto_format", format, where);
    if (!rc)
        rc = attr_scalar(file, "klepto_format_version", H5T_STD_I32LE, &ver, where);
    return rc;
}

int kl__h5_check_mark(hid_t file, const char *format, const char *where)
{
    htri_t ex = H5Aexists(file, "klepto_format");
    if (ex < 0)
        return kl__h5_fail(KL_ECORRUPT, "%s: unreadable root group", where);
    if (!ex)
        return kl_seterr(KL_ECORRUPT,
                         "%s: an HDF5 file that is not a klepto archive (no klepto_format "
                         "attribute)",
                         where);
    char got[64];
    int rc = attr_read_string(file, "klepto_format", got, sizeof got, where, "root group");
    if (rc)
        return rc;
    if (strcmp(got, format))
        return kl_seterr(KL_ECORRUPT, "%s: a klepto file of another kind (\"%s\", expected \"%s\")",
                         where, got, format);
    attr t;
    if ((rc = attr_get(file, "klepto_format_version", where, "root group", &t)))
        return rc;
    int32_t ver = 0;
    if (!attr_is(&t, H5T_INTEGER, 0) || t.n != 1 || H5Aread(t.a, H5T_NATIVE_INT32, &ver) < 0)
        rc = kl__h5_fail(KL_ECORRUPT, "%s: unreadable klepto_format_version", where);
    attr_done(&t);
    if (!rc && ver > KL_H5_VERSION)
        rc = kl_seterr(KL_EVERSION, "%s: format version %d (this library reads %d)", where,
                       (int)ver, KL_H5_VERSION);
    if (!rc && ver < 1)
        rc = kl_seterr(KL_ECORRUPT, "%s: bad format version %d", where, (int)ver);
    return rc;
}

int kl__h5_mark_current(hid_t file, const char *where)
{
    int32_t ver = 0, cur = KL_H5_VERSION;
    hid_t a = H5Aopen(file, "klepto_format_version", H5P_DEFAULT);
    int rc = 0;
    if (a < 0 || H5Aread(a, H5T_NATIVE_INT32, &ver) < 0)
        rc = kl__h5_fail(KL_ECORRUPT, "%s: unreadable klepto_format_version", where);
    else if (ver < cur && H5Awrite(a, H5T_NATIVE_INT32, &cur) < 0)
        rc = kl__h5_fail(0, "%s: update klepto_format_version", where);
    if (a >= 0 && H5Aclose(a) < 0 && !rc)
        rc = kl__h5_fail(0, "%s: update klepto_format_version", where);
    return rc;
}

/* ---- entries ----------------------------------------------------------- */

static hid_t le_type(int dtype)
{
    switch (dtype) {
    case KL_DT_INT8: return H5T_STD_I8LE;
    case KL_DT_INT16: return H5T_STD_I16LE;
    case KL_DT_INT32: return H5T_STD_I32LE;
    case KL_DT_INT64: return H5T_STD_I64LE;
    case KL_DT_UINT8: return H5T_STD_U8LE;
    case KL_DT_UINT16: return H5T_STD_U16LE;
    case KL_DT_UINT32: return H5T_STD_U32LE;
    case KL_DT_UINT64: return H5T_STD_U64LE;
    case KL_DT_FLOAT32: return H5T_IEEE_F32LE;
    default: return H5T_IEEE_F64LE;
    }
}

/* The kl_dtype of a stored dataset type, or -1. */
static int dtype_of(hid_t t)
{
    H5T_class_t c = H5Tget_class(t);
    size_t sz = H5Tget_size(t);
    if (c == H5T_FLOAT)
        return sz == 4 ? KL_DT_FLOAT32 : sz == 8 ? KL_DT_FLOAT64 : -1;
    if (c != H5T_INTEGER)
        return -1;
    bool sign = H5Tget_sign(t) == H5T_SGN_2;
    switch (sz) {
    case 1: return sign ? KL_DT_INT8 : KL_DT_UINT8;
    case 2: return sign ? KL_DT_INT16 : KL_DT_UINT16;
    case 4: return sign ? KL_DT_INT32 : KL_DT_UINT32;
    case 8: return sign ? KL_DT_INT64 : KL_DT_UINT64;
    default: return -1;
    }
}

/* The length n of a CBOR head (major type m) at p and the count it
 * holds; 0 when p holds no definite-length head. */
static size_t cbor_head(const uint8_t *p, size_t len, uint64_t *count)
{
    if (!len)
        return 0;
    unsigned ai = p[0] & 31;
    size_t n = ai < 24 ? 1 : ai == 24 ? 2 : ai == 25 ? 3 : ai == 26 ? 5 : ai == 27 ? 9 : 0;
    if (!n || n > len)
        return 0;
    uint64_t c = ai < 24 ? ai : 0;
    for (size_t i = 1; i < n; i++)
        c = c << 8 | p[i];
    *count = c;
    return n;
}

/* The canonical (shortest) CBOR head of major type m and count n into
 * out (9 bytes at most); its length. */
static size_t head_of_string(uint8_t *out, unsigned m, uint64_t n)
{
    size_t len = n < 24 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : n <= UINT32_MAX ? 5 : 9;
    static const uint8_t ai[] = {0, 0, 24, 25, 0, 26, 0, 0, 0, 27};
    out[0] = (uint8_t)(m << 5 | (len == 1 ? n : ai[len]));
    for (size_t i = 1; i < len; i++)
        out[i] = (uint8_t)(n >> (8 * (len - 1 - i)));
    return len;
}

static bool canonical_head(const uint8_t *v, size_t hn, unsigned major, uint64_t c)
{
    uint8_t h[9];
    return head_of_string(h, major, c) == hn && !memcmp(h, v, hn);
}

static double half_to_double(uint16_t h)
{
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return h & 0x8000 ? -v : v;
}

/* How a value is laid out natively (docs/hdf5.md): which kind, the bytes
 * of its encoding kept as the entry's head (in klepto_entry), and the
 * dataset (type, rank, dims, elements). */
typedef struct layout {
    kl__h5_kind kind;
    size_t head;      /* bytes of the encoding in the head */
    const uint8_t *data;
    size_t nbytes;    /* bytes of the encoding in the dataset */
    hid_t type;       /* the dataset's type; owned when `own` */
    bool own;
    int rank;
    hsize_t dims[KL_NDARRAY_MAXDIM];
    union {
        int64_t i;
        uint64_t u;
        double f;
        int8_t b;
    } scalar;         /* a number's native value, its dataset's one element */
} value_layout;

static hid_t bool_type(void)
{
    hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
    int8_t f = 0, tr = 1;
    /* h5py reads this enum (FALSE, TRUE) as numpy.bool_ */
    if (t >= 0 && (H5Tenum_insert(t, "FALSE", &f) < 0 || H5Tenum_insert(t, "TRUE", &tr) < 0)) {
        H5Tclose(t);
        t = -1;
    }
    return t;
}

static void plan(const uint8_t *v, size_t vlen, value_layout *l)
{
    memset(l, 0, sizeof *l);
    l->kind = KL_H5_CBOR;
    l->type = H5T_STD_U8LE;
    l->data = v;
    l->nbytes = vlen;
    l->rank = 1;
    l->dims[0] = vlen;
    kl__tarray ta;
    if (vlen && kl__tarray_parse(v, vlen, &ta) && ta.nbytes > 0 &&
        ta.head <= sizeof ((kl__h5_entry *)0)->head) {
        l->kind = KL_H5_ARRAY;
        l->type = le_type(ta.dtype);
        l->head = ta.head;
        l->data = v + ta.head;
        l->nbytes = ta.nbytes;
        l->rank = ta.ndim;
        for (int i = 0; i < l->rank; i++)
            l->dims[i] = ta.shape[i];
        return;
    }
    if (!vlen)
        return;
    unsigned major = v[0] >> 5;
    uint64_t c = 0;
    size_t hn = cbor_head(v, vlen, &c);
    value_layout n = *l;
    n.rank = 0; /* a scalar dataset */
    n.head = vlen;
    n.data = (const uint8_t *)&l->scalar;
    n.nbytes = 0;
    if ((major == 0 || major == 1) && hn == vlen) {
        n.kind = KL_H5_INT;
        if (major == 0 && c > INT64_MAX) {
            n.type = H5T_STD_U64LE;
            n.scalar.u = c;
        } else if (c <= INT64_MAX) {
            n.type = H5T_STD_I64LE;
            n.scalar.i = major == 0 ? (int64_t)c : -1 - (int64_t)c;
        } else {
            return; /* below int64: CBOR */
        }
    } else if (major == 7 && vlen == 1 && (v[0] == 0xf4 || v[0] == 0xf5)) {
        n.kind = KL_H5_BOOL;
        n.scalar.b = v[0] == 0xf5;
    } else if (major == 7 && ((v[0] == 0xf9 && vlen == 3) || (v[0] == 0xfa && vlen == 5) ||
                              (v[0] == 0xfb && vlen == 9))) {
        n.kind = KL_H5_FLOAT;
        n.type = H5T_IEEE_F64LE;
        if (v[0] == 0xf9) {
            n.scalar.f = half_to_double((uint16_t)(v[1] << 8 | v[2]));
        } else if (v[0] == 0xfa) {
            uint32_t b = (uint32_t)c;
            float f;
            memcpy(&f, &b, 4);
            n.scalar.f = f;
        } else {
            memcpy(&n.scalar.f, &c, 8);
        }
    } else if ((major == 2 || major == 3) && hn && c > 0 && c <= NATIVE_TEXT_MAX &&
               hn + c == vlen && canonical_head(v, hn, major, c)) {
        /* one element of c bytes: a UTF-8 string, or opaque bytes */
        n.kind = major == 3 ? KL_H5_TEXT : KL_H5_BYTES;
        n.head = hn;
        n.data = v + hn;
        n.nbytes = (size_t)c;
    } else {
        return;
    }
    *l = n;
    l->data = l->kind == KL_H5_TEXT || l->kind == KL_H5_BYTES ? v + hn
                                                              : (const uint8_t *)&l->scalar;
}

/* The dataset type of a planned layout (owned by the caller when own). */
static int plan_type(value_layout *l, const char *where, const char *name)
{
    if (l->kind == KL_H5_BOOL || l->kind == KL_H5_TEXT || l->kind == KL_H5_BYTES) {
        hid_t t = -1;
        if (l->kind == KL_H5_BOOL) {
            t = bool_type();
        } else if (l->kind == KL_H5_TEXT) {
            t = H5Tcopy(H5T_C_S1);
            if (t >= 0 && (H5Tset_size(t, l->nbytes) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0 ||
                           H5Tset_strpad(t, H5T_STR_NULLPAD) < 0)) {
                H5Tclose(t);
                t = -1;
            }
        } else {
            /* no tag, as h5py writes numpy.void: it reads it back */
            t = H5Tcreate(H5T_OPAQUE, l->nbytes);
        }
        if (t < 0)
            return kl__h5_fail(0, "%s: entry %s: dataset type", where, name);
        l->type = t;
        l->own = true;
    }
    return 0;
}

/* klepto_key_repr: the key as a Python literal, as `klepto ls` prints it
 * (a list key is a tuple); a key that has none (not decodable) gets none. */
static int key_repr(hid_t d, const void *key, size_t klen, const char *what)
{
    kl_value v;
    if (kl_decode(key, klen, &v))
        return 0;
    if (v.type == KL_ARRAY)
        v.flags |= KL_VALUE_TUPLE;
    kl_buf r = KL_BUF_INIT;
    int rc = kl_repr(&r, &v);
    kl_value_free(&v);
    if (!rc) {
        /* fixed-length: a variable-length string lives in the file's
         * global heap, which HDF5 cannot always finish writing on a full
         * disk */
        hid_t t = H5Tcopy(H5T_C_S1);
        if (t < 0 || H5Tset_size(t, r.len ? r.len : 1) < 0 ||
            H5Tset_cset(t, H5T_CSET_UTF8) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0)
            rc = kl__h5_fail(0, "%s: string type", what);
        if (!rc)
            rc = attr_scalar(d, "klepto_key_repr", t, kl_buf_cstr(&r), what);
        if (t >= 0)
            H5Tclose(t);
    } else {
        rc = 0; /* no literal for it: no attribute */
    }
    kl_buf_free(&r);
    return rc;
}

/* The dataset creation properties of an entry: no fill value is ever
 * written, and no modification times are kept (they would be rewritten
 * with each attribute); compact: its elements in its object header. */
static hid_t make_dcpl(bool compact)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (dcpl >= 0 && (H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0 ||
                      H5Pset_obj_track_times(dcpl, false) < 0 ||
                      (compact && H5Pset_layout(dcpl, H5D_COMPACT) < 0))) {
        H5Pclose(dcpl);
        dcpl = -1;
    }
    return dcpl;
}

static hid_t make_compact_dcpl(void) { return make_dcpl(true); }
static hid_t make_contiguous_dcpl(void) { return make_dcpl(false); }

static hid_t entry_dcpl(bool compact)
{
    static hid_t dcpl[2] = {-1, -1};
    return kept(&dcpl[compact], compact ? make_compact_dcpl : make_contiguous_dcpl);
}

/* A big value's elements are written in slabs of whole rows, about
 * SLAB bytes each, and hashed slab by slab as HDF5 writes them: by a
 * helper thread, one slab behind, so that the hash (XXH3 of 100 MB costs
 * as much as a third of the write) runs beside the kernel's copy and reads
 * what that copy has just brought into the cache; inline after each slab
 * when no thread can be started. */
#define SLAB_MIN (8u << 20)
#define SLAB (1u << 20)

typedef struct hasher {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const uint8_t *p;
    size_t ready;     /* bytes of p written and hashable */
    bool stop;        /* no more will come */
    XXH3_state_t *st; /* the helper's until it is joined */
} hasher;

static void *hash_slabs(void *arg)
{
    hasher *h = arg;
    size_t at = 0;
    for (;;) {
        pthread_mutex_lock(&h->mu);
        while (h->ready == at && !h->stop)
            pthread_cond_wait(&h->cv, &h->mu);
        size_t upto = h->ready;
        pthread_mutex_unlock(&h->mu);
        if (upto == at)
            return NULL; /* stopped, all hashed */
        XXH3_64bits_update(h->st, h->p + at, upto - at);
        at = upto;
    }
}

/* Hand the helper what is written: up to `ready` bytes, or (stop) the
 * end. */
static void hasher_post(hasher *h, size_t ready, bool stop)
{
    pthread_mutex_lock(&h->mu);
    if (ready > h->ready)
        h->ready = ready;
    h->stop = stop;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* Write the elements of l (a dataset of rank >= 1, d) and set *h to
 * XXH3-64 of the whole value val (what precedes and follows the elements
 * in val included), as XXH3_64bits(val, vlen) would. */
static int write_slabs(hid_t d, hid_t type, const value_layout *l, const uint8_t *val,
                       size_t vlen, uint64_t *h, const char *where, const char *name)
{
    size_t row = l->nbytes / l->dims[0]; /* bytes of one row (dims[0] > 0: nbytes > 0) */
    hsize_t per = row >= SLAB ? 1 : SLAB / row;
    size_t before = (size_t)(l->data - val);
    hasher hs = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
                 .p = l->data, .st = XXH3_createState()};
    hid_t fsp = H5Dget_space(d);
    int rc = 0;
    if (!hs.st || fsp < 0 || XXH3_64bits_reset(hs.st) != XXH_OK ||
        XXH3_64bits_update(hs.st, val, before) != XXH_OK)
        rc = kl__h5_fail(KL_ENOMEM, "%s: entry %s: write", where, name);
    pthread_t helper;
    bool threaded = !rc && pthread_create(&helper, NULL, hash_slabs, &hs) == 0;
    hsize_t start[KL_NDARRAY_MAXDIM] = {0}, count[KL_NDARRAY_MAXDIM];
    memcpy(count, l->dims, sizeof count);
    size_t done = 0;
    for (hsize_t r = 0; !rc && r < l->dims[0]; r += per) {
        start[0] = r;
        count[0] = l->dims[0] - r < per ? l->dims[0] - r : per;
        hsize_t elems = count[0] * (row / H5Tget_size(type));
        size_t n = (size_t)count[0] * row;
        hid_t msp = H5Screate_simple(1, &elems, NULL);
        if (msp < 0 ||
            H5Sselect_hyperslab(fsp, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
            H5Dwrite(d, type, msp, fsp, H5P_DEFAULT, l->data + done) < 0)
            rc = kl__h5_fail(0, "%s: entry %s: write %zu bytes at %zu", where, name, n, done);
        else if (threaded)
            hasher_post(&hs, done + n, false);
        else
            XXH3_64bits_update(hs.st, l->data + done, n);
        done += n;
        if (msp >= 0)
            H5Sclose(msp);
    }
    if (threaded) {
        hasher_post(&hs, 0, true);
        pthread_join(helper, NULL);
    }
    size_t after = before + l->nbytes;
    if (!rc && XXH3_64bits_update(hs.st, val + after, vlen - after) != XXH_OK)
        rc = kl_seterr(KL_EIO, "%s: entry %s: checksum", where, name);
    if (!rc)
        *h = XXH3_64bits_digest(hs.st);
    if (fsp >= 0)
        H5Sclose(fsp);
    XXH3_freeState(hs.st);
    pthread_mutex_destroy(&hs.mu);
    pthread_cond_destroy(&hs.cv);
    return rc;
}

static const char *const kind_names[] = {"cbor", "array", "int", "float", "bool", "text", "bytes"};
#define NKINDS (sizeof kind_names / sizeof *kind_names)

/* klepto_entry (format version 3, docs/hdf5.md): what a read needs in one
 * attribute, one open instead of four (each is a tenth of a small get):
 * the kind (1 byte), the value's XXH3-64 (8, little-endian), the head's
 * length h (1) and its h bytes, then the key's bytes to the end. */
#define REC_FIXED 10

static int entry_record(hid_t d, kl__h5_kind kind, uint64_t h, const uint8_t *head, size_t hlen,
                        const void *key, size_t klen, const char *what)
{
    uint8_t small[256];
    size_t n = REC_FIXED + hlen + klen;
    uint8_t *r = n <= sizeof small ? small : malloc(n);
    if (!r)
        return kl_seterr(KL_ENOMEM, "out of memory");
    r[0] = (uint8_t)kind;
    for (int i = 0; i < 8; i++)
        r[1 + i] = (uint8_t)(h >> (8 * i));
    r[9] = (uint8_t)hlen;
    memcpy(r + REC_FIXED, head, hlen);
    if (klen)
        memcpy(r + REC_FIXED + hlen, key, klen);
    int rc = attr_bytes(d, "klepto_entry", r, n, what);
    if (r != small)
        free(r);
    return rc;
}

/* Read klepto_entry into e and the key into key: 1 when the entry has
 * none (written before format version 3), 0, or KL_ECORRUPT. */
static int entry_record_read(kl__h5_entry *e, kl_buf *key, const char *what)
{
    attr t = {.name = "klepto_entry", .where = e->where, .what = what};
    t.a = H5Aopen(e->dset, t.name, H5P_DEFAULT);
    if (t.a < 0) {
        H5Eclear2(H5E_DEFAULT);
        return 1;
    }
    t.ft = H5Aget_type(t.a);
    t.n = attr_count(t.a, t.ft);
    int rc = attr_take_bytes(&t, key, SIZE_MAX / 2);
    if (rc)
        return rc;
    const uint8_t *r = key->data;
    if (key->len < REC_FIXED || r[9] > sizeof e->head || key->len - REC_FIXED < r[9])
        return kl_seterr(KL_ECORRUPT, "%s: %s: attribute klepto_entry is damaged", e->where, what);
    if (r[0] >= NKINDS) /* as an unknown klepto_kind */
        return kl_seterr(KL_EVERSION, "%s: %s: unknown kind %u", e->where, what, r[0]);
    e->kind = (kl__h5_kind)r[0];
    e->xxh3 = 0;
    for (int i = 0; i < 8; i++)
        e->xxh3 |= (uint64_t)r[1 + i] << (8 * i);
    e->hlen = r[9];
    memcpy(e->head, r + REC_FIXED, e->hlen);
    size_t skip = REC_FIXED + e->hlen;
    memmove(key->data, key->data + skip, key->len - skip);
    key->len -= skip;
    return 0;
}

int kl__h5_entry_write(hid_t loc, const char *name, const void *key, size_t klen, const void *val,
                      size_t vlen, int64_t stored_ns, const char *where)
{
    value_layout l;
    plan(val, vlen, &l);
    bool scalar = l.rank == 0;
    int prc = plan_type(&l, where, name);
    if (prc)
        return prc;
    hid_t type = l.type;
    const uint8_t *data = l.data;
    /* what goes into the dataset: a number's native element too */
    size_t nbytes = scalar ? 1 : l.nbytes;
    hsize_t *dims = l.dims;
    int rank = l.rank;
    hid_t sp = scalar ? H5Screate(H5S_SCALAR)
               : nbytes ? H5Screate_simple(rank, dims, NULL)
                        : H5Screate(H5S_NULL);
    bool compact = nbytes && (scalar ? l.nbytes : nbytes) <= COMPACT_MAX;
    hid_t dcpl = entry_dcpl(compact);
    hid_t d = -1;
    int rc = 0;
    if (sp < 0 || dcpl < 0)
        rc = kl__h5_fail(0, "%s: entry %s: dataset properties", where, name);
    if (!rc && (d = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT)) < 0)
        rc = kl__h5_fail(0, "%s: entry %s: create dataset", where, name);
    uint64_t h = 0;
    if (!rc && !scalar && nbytes >= SLAB_MIN)
        rc = write_slabs(d, type, &l, val, vlen, &h, where, name);
    else if (!rc && nbytes && H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        rc = kl__h5_fail(0, "%s: entry %s: write %zu bytes", where, name, nbytes);
    if (l.own)
        H5Tclose(l.type);
    char what[100];
    snprintf(what, sizeof what, "%s: entry %s", where, name);
    if (scalar || nbytes < SLAB_MIN)
        h = XXH3_64bits(val, vlen);
    /* a string's head follows from its length (head_of_string) */
    size_t head = l.kind != KL_H5_TEXT && l.kind != KL_H5_BYTES ? l.head : 0;
    if (!rc)
        rc = entry_record(d, l.kind, h, val, head, key, klen, what);
    if (!rc)
        rc = attr_string(d, "klepto_kind", kind_names[l.kind], what);
    if (!rc)
        rc = key_repr(d, key, klen, what);
    if (!rc)
        rc = attr_scalar(d, "klepto_stored_ns", H5T_STD_I64LE, &stored_ns, what);
    /* HDF5 keeps small raw-data writes in its sieve buffer and writes them
     * when the dataset is closed: a full disk is often reported here
     * only, and an entry whose close failed is not stored */
    if (d >= 0 && H5Dclose(d) < 0 && !rc)
        rc = kl__h5_fail(0, "%s: entry %s: close dataset", where, name);
    if (sp >= 0)
        H5Sclose(sp);
    return rc;
}

/* Message types of an object header (HDF5 file format specification,
 * IV.A.2): a bit each in H5O_hdr_info_t's mesg.present. */
#define H5O_MSG_EXTERNAL_FILES 0x0007
#define H5O_MSG_FILTER_PIPELINE 0x000B

/* The dataset's elements (nbytes by its shape and type) are all in this
 * file, unfiltered: a shape that claims more than was stored (a damaged or
 * hostile file) is refused before anything is allocated for it, and so is
 * a dataset whose elements live in other files (external storage: any
 * file the reader may open; a virtual dataset stores 0 bytes of its own)
 * or pass through filters (klepto writes none).  The object header's
 * message list says so at a tenth of the cost of the creation property
 * list (which copies every property: a tenth of a small get). */
static int stored_in_full(hid_t d, uint64_t nbytes, const char *where, const char *what)
{
    H5O_hdr_info_t hdr;
    if (kl__h5_header(d, NULL, &hdr) < 0)
        return kl__h5_fail(KL_ECORRUPT, "%s: %s: unreadable object header", where, what);
    uint64_t foreign =
        (UINT64_C(1) << H5O_MSG_EXTERNAL_FILES) | (UINT64_C(1) << H5O_MSG_FILTER_PIPELINE);
    if (hdr.mesg.present & foreign)
        return kl_seterr(KL_ECORRUPT,
                         "%s: %s: a dataset layout klepto does not write (external files or "
                         "filters)",
                         where, what);
    if (H5Dget_storage_size(d) < nbytes)
        return kl__h5_fail(KL_ECORRUPT, "%s: %s: the dataset holds fewer bytes than its shape says",
                           where, what);
    return 0;
}

/* An entry of format version 1 or 2: key, kind, checksum and head each
 * an attribute of its own. */
static int entry_attrs_read(kl__h5_entry *e, kl_buf *key, const char *what)
{
    const char *where = e->where;
    int rc = attr_read_bytes(e->dset, "klepto_key", key, SIZE_MAX / 2, where, what);
    char kind[16];
    if (!rc)
        rc = attr_read_string(e->dset, "klepto_kind", kind, sizeof kind, where, what);
    int k = -1;
    for (int i = 0; !rc && i < (int)NKINDS; i++)
        if (!strcmp(kind, kind_names[i]))
            k = i;
    if (!rc && k < 0)
        rc = kl_seterr(KL_EVERSION, "%s: %s: unknown kind \"%s\"", where, what, kind);
    e->kind = k < 0 ? KL_H5_CBOR : (kl__h5_kind)k;
    if (!rc)
        rc = attr_read_scalar(e->dset, "klepto_xxh3", H5T_NATIVE_UINT64, &e->xxh3, where, what);
    if (!rc && e->kind != KL_H5_CBOR && e->kind != KL_H5_TEXT && e->kind != KL_H5_BYTES) {
        kl_buf hb = KL_BUF_INIT;
        rc = attr_read_bytes(e->dset, "klepto_head", &hb, sizeof e->head, where, what);
        if (!rc) {
            memcpy(e->head, hb.data, hb.len);
            e->hlen = hb.len;
        }
        kl_buf_free(&hb);
    }
    return rc;
}

int kl__h5_entry_open(hid_t loc, const char *name, kl_buf *key, kl__h5_entry *e, const char *where)
{
    memset(e, 0, sizeof *e);
    e->dset = -1;
    e->where = where;
    snprintf(e->name, sizeof e->name, "%s", name);
    e->dset = H5Dopen2(loc, name, H5P_DEFAULT);
    if (e->dset < 0) {
        /* a miss is the common failure: tell it from damage */
        H5Eclear2(H5E_DEFAULT);
        htri_t ex = H5Lexists(loc, name, H5P_DEFAULT);
        if (ex == 0)
            return kl_seterr(KL_ENOTFOUND, "%s: key not found", where);
        e->dset = H5Dopen2(loc, name, H5P_DEFAULT);
        if (e->dset < 0)
            return kl__h5_fail(KL_ECORRUPT, "%s: entry %s: not a readable dataset", where, name);
    }
    char what[80];
    snprintf(what, sizeof what, "entry %s", name);
    int rc = entry_record_read(e, key, what);
    if (rc == 1)
        rc = entry_attrs_read(e, key, what);
    e->array = !rc && e->kind == KL_H5_ARRAY;
    /* klepto_stored_ns is read when asked for (kl__h5_entry_stored_ns):
     * a get has no use for it, and each attribute is a tenth of a get */
    if (!rc) {
        hid_t sp = H5Dget_space(e->dset), ft = H5Dget_type(e->dset);
        hssize_t n = sp >= 0 ? H5Sget_select_npoints(sp) : -1;
        if (sp >= 0 && H5Sget_simple_extent_type(sp) == H5S_NULL)
            n = 0;
        size_t es = ft >= 0 ? H5Tget_size(ft) : 0;
        H5T_class_t cls = ft >= 0 ? H5Tget_class(ft) : H5T_NO_CLASS;
        bool fits;
        switch (e->kind) {
        case KL_H5_ARRAY: fits = dtype_of(ft) >= 0; break;
        case KL_H5_INT: fits = cls == H5T_INTEGER && n == 1; break;
        case KL_H5_FLOAT: fits = cls == H5T_FLOAT && n == 1; break;
        case KL_H5_BOOL: fits = cls == H5T_ENUM && n == 1; break;
        case KL_H5_TEXT: fits = cls == H5T_STRING && n == 1 && !H5Tis_variable_str(ft); break;
        case KL_H5_BYTES: fits = cls == H5T_OPAQUE && n == 1; break;
        default: fits = cls == H5T_INTEGER && es == 1; break;
        }
        /* a number's encoding is all in its head: the dataset mirrors it */
        if (e->kind == KL_H5_INT || e->kind == KL_H5_FLOAT || e->kind == KL_H5_BOOL)
            n = 0;
        if (n < 0 || es == 0)
            rc = kl__h5_fail(KL_ECORRUPT, "%s: %s: unreadable dataspace or type", where, what);
        else if (!fits)
            rc = kl_seterr(KL_ECORRUPT, "%s: %s: dataset type does not match its kind", where,
                           what);
        else if ((uint64_t)n > UINT64_MAX / es || (uint64_t)n * es > SIZE_MAX / 2)
            rc = kl_seterr(KL_ETOOBIG, "%s: %s: dataset too large", where, what);
        else if (n && (rc = stored_in_full(e->dset, (uint64_t)n * es, where, what)) == 0)
            e->nbytes = (uint64_t)n * es;
        if (sp >= 0)
            H5Sclose(sp);
        if (ft >= 0)
            H5Tclose(ft);
    }
    if (!rc && (e->kind == KL_H5_TEXT || e->kind == KL_H5_BYTES))
        e->hlen = head_of_string(e->head, e->kind == KL_H5_TEXT ? 3 : 2, e->nbytes);
    if (rc)
        kl__h5_entry_close(e);
    return rc;
}

int kl__h5_entry_stored_ns(kl__h5_entry *e, int64_t *ns)
{
    if (!e->have_ns) {
        char what[80];
        snprintf(what, sizeof what, "entry %s", e->name);
        int rc = attr_read_scalar(e->dset, "klepto_stored_ns", H5T_NATIVE_INT64, &e->stored_ns,
                                  e->where, what);
        if (rc)
            return rc;
        e->have_ns = true;
    }
    *ns = e->stored_ns;
    return 0;
}

void kl__h5_entry_close(kl__h5_entry *e)
{
    if (e->dset >= 0)
        H5Dclose(e->dset);
    e->dset = -1;
}

/* The type to read the elements as, and (arrays) their kl_dtype. */
static int read_type(kl__h5_entry *e, hid_t *mtype, int *dtype)
{
    *mtype = H5T_NATIVE_UINT8;
    *dtype = -1;
    if (!e->array)
        return 0;
    hid_t ft = H5Dget_type(e->dset);
    if (ft < 0)
        return kl__h5_fail(KL_ECORRUPT, "%s: entry %s: unreadable type", e->where, e->name);
    *dtype = dtype_of(ft);
    H5Tclose(ft);
    if (*dtype < 0)
        return kl_seterr(KL_ECORRUPT, "%s: entry %s: not a numeric dataset", e->where, e->name);
    *mtype = le_type(*dtype);
    return 0;
}

/* Shape of the dataset into ta (rank <= KL_NDARRAY_MAXDIM). */
static int dataset_shape(kl__h5_entry *e, kl__tarray *ta)
{
    hid_t sp = H5Dget_space(e->dset);
    int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    hsize_t dims[32];
    int rc = 0;
    if (rank < 1 || rank > KL_NDARRAY_MAXDIM || H5Sget_simple_extent_dims(sp, dims, NULL) < 0)
        rc = kl_seterr(KL_ECORRUPT, "%s: entry %s: bad array rank", e->where, e->name);
    else {
        ta->ndim = (uint8_t)rank;
        for (int i = 0; i < rank; i++)
            ta->shape[i] = (size_t)dims[i];
    }
    if (sp >= 0)
        H5Sclose(sp);
    H5Eclear2(H5E_DEFAULT);
    return rc;
}

int kl__h5_entry_value(kl__h5_entry *e, kl_buf *val)
{
    hid_t mtype;
    int dtype;
    int rc = read_type(e, &mtype, &dtype);
    if (rc)
        return rc;
    kl_buf_reset(val);
    size_t total = e->hlen + (size_t)e->nbytes;
    if ((rc = kl_buf_reserve(val, total ? total : 1)))
        return rc;
    memcpy(val->data, e->head, e->hlen);
    bool own = e->kind == KL_H5_TEXT || e->kind == KL_H5_BYTES;
    if (own && e->nbytes && (mtype = H5Dget_type(e->dset)) < 0)
        return kl__h5_fail(KL_ECORRUPT, "%s: entry %s: unreadable type", e->where, e->name);
    herr_t r = e->nbytes ? H5Dread(e->dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                   val->data + e->hlen)
                         : 0;
    if (own && e->nbytes)
        H5Tclose(mtype);
    if (r < 0)
        return kl__h5_fail(KL_ECORRUPT, "%s: entry %s: read %llu bytes", e->where, e->name,
                          (unsigned long long)e->nbytes);
    val->len = total;
    if (XXH3_64bits(val->data, total) != e->xxh3) {
        val->len = 0;
        return kl_seterr(KL_ECORRUPT, "%s: entry %s: value checksum mismatch", e->where, e->name);
    }
    if (e->array) {
        kl__tarray ta, ds = {0};
        if (!kl__tarray_parse(val->data, total, &ta) || ta.head != e->hlen || ta.dtype != dtype ||
            dataset_shape(e, &ds) || ds.ndim != ta.ndim ||
            memcmp(ds.shape, ta.shape, sizeof ds.shape)) {
            val->len = 0;
            return kl_seterr(KL_ECORRUPT, "%s: entry %s: array head does not match the dataset",
                             e->where, e->name);
        }
    }
    return 0;
}

static void map_release(kl_view *v)
{
    munmap(v->priv, v->priv_len);
    free(v);
}

int kl__h5_entry_view(kl__h5_entry *e, int fd, kl_view **out)
{
    *out = NULL;
    if (!e->array)
        return kl_seterr(KL_ETYPE, "%s: the value is not a typed numeric array", e->where);
    hid_t mtype;
    int dtype;
    int rc = read_type(e, &mtype, &dtype);
    if (rc)
        return rc;
    /* an address only for elements stored contiguously in this file */
    haddr_t off = H5Dget_offset(e->dset);
    /* only little-endian elements can be handed out as they lie */
    hid_t ft = H5Dget_type(e->dset);
    if (ft < 0 || H5Tequal(ft, mtype) <= 0)
        off = HADDR_UNDEF;
    if (ft >= 0)
        H5Tclose(ft);
    H5Eclear2(H5E_DEFAULT);
    struct stat st;
    bool map = fd >= 0 && off != HADDR_UNDEF && e->nbytes >= MAP_MIN && off % ALIGN == 0 &&
               fstat(fd, &st) == 0;
    if (map && (uint64_t)st.st_size < off + e->nbytes)
        return kl_seterr(KL_ECORRUPT, "%s: entry %s: array runs past the end of the file (truncated?)",
                         e->where, e->name);
    if (!map) {
        kl_buf v = KL_BUF_INIT;
        kl__tarray ta;
        rc = kl__h5_entry_value(e, &v);
        if (!rc && !kl__tarray_parse(v.data, v.len, &ta))
            rc = kl_seterr(KL_ECORRUPT, "%s: entry %s: not an array", e->where, e->name);
        if (!rc) {
            rc = kl__view_from_copy(out, v.data, v.len, &ta);
            v.data = NULL;
        }
        kl_buf_free(&v);
        return rc;
    }
    kl__tarray ta = {0};
    if ((rc = dataset_shape(e, &ta)))
        return rc;
    long pg = sysconf(_SC_PAGESIZE);
    uint64_t base = off / (uint64_t)pg * (uint64_t)pg;
    size_t len = (size_t)(off - base + e->nbytes);
    void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, (off_t)base);
    if (m == MAP_FAILED)
        return kl_seterr(kl__errno_code(errno), "%s: entry %s: map: %s", e->where, e->name,
                         strerror(errno));
    kl_view *v = calloc(1, sizeof *v);
    if (!v) {
        munmap(m, len);
        return kl_seterr(KL_ENOMEM, "out of memory");
    }
    v->data = (uint8_t *)m + (off - base);
    v->nbytes = (size_t)e->nbytes;
    v->dtype = (uint8_t)dtype;
    v->ndim = ta.ndim;
    memcpy(v->shape, ta.shape, sizeof v->shape);
    v->mapped = true;
    v->release = map_release;
    v->priv = m;
    v->priv_len = len;
    *out = v;
    return 0;
}

int kl__h5_entry_answer(kl__h5_entry *e, kl__h5_want want, size_t klen, int fd, void *out)
{
    switch (want) {
    case KL_H5_VALUE:
        return kl__h5_entry_value(e, out);
    case KL_H5_PRESENT:
        return 1;
    case KL_H5_INFO: {
        kl_entry_info *info = out;
        int rc = kl__h5_entry_stored_ns(e, &info->stored_ns);
        info->size = klen + kl__h5_entry_vlen(e);
        return rc;
    }
    case KL_H5_VIEW:
        return kl__h5_entry_view(e, fd, out);
    }
    return kl_seterr(KL_EINVAL, "%s: unknown read", e->where);
}
