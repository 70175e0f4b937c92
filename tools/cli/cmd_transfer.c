/* SPDX-License-Identifier: BSD-3-Clause */
/* Moving entries in and out of archives as text: export, import (CLI.md).
 *
 * Tuples and lists encode alike (codec.h), so JSON's lists lose nothing
 * that changes a stored key; but JSON cannot tell bytes from a map
 * {"$bytes": ...}, a float nan from the text "nan", 1.0 written as 1 by
 * another tool from 1, or a text map key from an integer one.  Export
 * therefore writes each entry's Python literals beside its JSON:
 *   {"key": <json>, "value": <json>, "key_repr": "<literal>",
 *    "value_repr": "<literal>"}
 * import prefers the literals, and export checks that every literal parses
 * back to the very bytes stored (an entry that does not is still written,
 * named on stderr, and the exit status is 1).  CSV is "key,value" then one
 * line per entry, both fields literals, quoted as RFC 4180 says, LF line
 * ends (CRLF read too).
 *
 * Import without literals reads the JSON as kl_json_parse() says: arrays
 * become lists (the same bytes as tuples), {"$bytes": base64} bytes, and
 * the rest of kl_json's spellings ("nan" strings, "$ndarray" objects,
 * quoted non-text map keys) stay what JSON says they are.  Members other
 * than the four are ignored, so `ls --json` output imports too.  Entries
 * are validated a batch at a time and a batch with a bad entry is not
 * written.  Stored times are not carried over: imported entries are new. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli.h"

enum { FMT_JSON, FMT_CSV };
enum { IMPORT_BATCH = 1000 };

static int parse_format(const char *cmd, const char *s, int *fmt)
{
    if (!strcmp(s, "json"))
        *fmt = FMT_JSON;
    else if (!strcmp(s, "csv"))
        *fmt = FMT_CSV;
    else
        return cli_usage("%s: --format must be json or csv, not '%s'", cmd, s);
    return 0;
}

/* ---- export ----------------------------------------------------------- */

/* The literal (and JSON, when json != NULL) of stored key or value bytes.
 * *exact tells whether the literal parses back to the same bytes. */
static int render_entry(const kl_buf *b, bool as_key, kl_buf *lit, kl_buf *json, bool *exact)
{
    kl_value v;
    int rc = kl_decode(b->data, b->len, &v);
    if (rc)
        return rc;
    if (as_key && v.type == KL_ARRAY)
        v.flags |= KL_VALUE_TUPLE;
    lit->len = 0;
    rc = kl_repr(lit, &v);
    if (!rc && json) {
        json->len = 0;
        rc = kl_json(json, &v);
    }
    kl_value_free(&v);
    if (rc)
        return rc;
    kl_value back = kl_value_null();
    kl_buf enc = KL_BUF_INIT;
    *exact = kl_parse((const char *)lit->data, lit->len, &back) == 0 &&
             kl_encode(&enc, &back, 0) == 0 && enc.len == b->len &&
             memcmp(enc.data, b->data, b->len) == 0;
    kl_value_free(&back);
    kl_buf_free(&enc);
    return 0;
}

/* RFC 4180: a field holding a comma, quote or line break is quoted, its
 * quotes doubled. */
static int csv_field(kl_buf *out, const kl_buf *f)
{
    const char *s = (const char *)f->data;
    bool quote = false;
    for (size_t i = 0; i < f->len && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!quote)
        return kl_buf_append(out, s, f->len);
    int rc = kl_buf_append(out, "\"", 1);
    for (size_t i = 0; !rc && i < f->len; i++)
        rc = s[i] == '"' ? kl_buf_append(out, "\"\"", 2) : kl_buf_append(out, &s[i], 1);
    return rc ? rc : kl_buf_append(out, "\"", 1);
}

static int json_string_of(kl_buf *out, const kl_buf *text)
{
    kl_value t = kl_value_text_ref(text->data ? (const char *)text->data : "", text->len);
    return kl_json(out, &t);
}

static const char export_usage[] =
    "usage: klepto export URL [--format json|csv] [--progress|--quiet]";
static const char export_about[] =
    "Write every entry to stdout: JSON lines {\"key\": ..., \"value\": ...} (the\n"
    "default) or CSV with a header.  A progress line shows on stderr when it\n"
    "is a terminal; --progress and --quiet force it on or off.\n";

int cli_cmd_export(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help(export_usage, export_about);
    int mode, r = cli_progress_mode(&argc, argv, &mode);
    if (r)
        return r;
    const char *url = NULL, *val;
    int fmt = FMT_JSON;
    for (int i = 0; i < argc; i++) {
        if ((r = cli_take_opt(argc, argv, &i, "--format", &val)) != 0) {
            if (r < 0)
                return cli_usage("export: --format needs a value (json or csv)");
            if (parse_format("export", val, &fmt))
                return CLI_USAGE;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage("export: unknown option '%s'", argv[i]);
        } else if (!url) {
            url = argv[i];
        } else {
            return cli_usage("export: unexpected argument '%s'", argv[i]);
        }
    }
    if (!url)
        return cli_usage("%s", export_usage);
    kl_archive *ar;
    int st = cli_open_ro(&ar, url);
    if (st)
        return st;
    kl_archive_iter *it = NULL;
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT, kl = KL_BUF_INIT, vl = KL_BUF_INIT;
    kl_buf kj = KL_BUF_INIT, vj = KL_BUF_INIT, line = KL_BUF_INIT;
    size_t damaged = 0, inexact = 0;
    if (fmt == FMT_CSV)
        fputs("key,value\n", stdout);
    size_t total = 0;
    if (mode != CLI_PROGRESS_OFF)
        kl_archive_count(ar, &total);
    cli_progress pg;
    cli_progress_start(&pg, mode, "export", false, total);
    int rc = kl_archive_iter_new(ar, &it);
    const char *shown = kl_archive_url(ar);
    while (!rc && (r = cli_next_entry(it, shown, true, &k, &v, &damaged)) != 0) {
        if (r < 0) {
            rc = r;
            break;
        }
        bool kx, vx;
        bool json = fmt == FMT_JSON;
        if ((r = render_entry(&k, true, &kl, json ? &kj : NULL, &kx)) != 0 ||
            (r = render_entry(&v, false, &vl, json ? &vj : NULL, &vx)) != 0) {
            fprintf(stderr, "klepto: %s: skipped an entry that does not decode: %s\n", shown,
                    kl_errmsg());
            damaged++;
            continue;
        }
        if (!kx || !vx) {
            /* still written: it is the best text there is, but the
             * exit status says the export is not faithful */
            fprintf(stderr,
                    "klepto: %s: the %s of entry %s does not read back to the bytes stored\n",
                    shown, kx ? "value" : "key", kl_buf_cstr(&kl));
            inexact++;
        }
        line.len = 0;
        if (json) {
            rc = kl_buf_append_str(&line, "{\"key\": ");
            if (!rc && !(rc = kl_buf_append(&line, kj.data, kj.len)) &&
                !(rc = kl_buf_append_str(&line, ", \"value\": ")) &&
                !(rc = kl_buf_append(&line, vj.data, vj.len)) &&
                !(rc = kl_buf_append_str(&line, ", \"key_repr\": ")) &&
                !(rc = json_string_of(&line, &kl)) &&
                !(rc = kl_buf_append_str(&line, ", \"value_repr\": ")) &&
                !(rc = json_string_of(&line, &vl)))
                rc = kl_buf_append_str(&line, "}\n");
        } else {
            if (!(rc = csv_field(&line, &kl)) && !(rc = kl_buf_append(&line, ",", 1)) &&
                !(rc = csv_field(&line, &vl)))
                rc = kl_buf_append(&line, "\n", 1);
        }
        if (!rc && fwrite(line.data, 1, line.len, stdout) != line.len)
            break; /* reported below from ferror */
        cli_progress_add(&pg, 1);
    }
    kl_archive_iter_free(it);
    cli_progress_end(&pg);
    if (rc)
        st = cli_fail(rc, url);
    if (fflush(stdout) || ferror(stdout)) {
        fprintf(stderr, "klepto: export: writing the output: %s\n", strerror(errno));
        st = CLI_IO;
    }
    if (!st && (damaged || inexact))
        st = CLI_FAILED_CHECK;
    st = cli_close(ar, url, st);
    kl_buf *bufs[] = {&k, &v, &kl, &vl, &kj, &vj, &line};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        kl_buf_free(bufs[i]);
    return st;
}

/* ---- import ----------------------------------------------------------- */

typedef struct input {
    FILE *f;
    const char *name;
    char *line;
    size_t cap, lineno;
    char err[512];
} input;

static int input_line(input *in, ssize_t *len)
{
    errno = 0;
    *len = getline(&in->line, &in->cap, in->f);
    if (*len < 0) {
        if (ferror(in->f)) {
            snprintf(in->err, sizeof in->err, "read error: %s", strerror(errno));
            return KL_EIO;
        }
        return 0;
    }
    if (in->lineno++ == 0 && *len >= 3 && !memcmp(in->line, "\xef\xbb\xbf", 3)) {
        /* a UTF-8 byte order mark, as spreadsheets write: not data */
        memmove(in->line, in->line + 3, (size_t)*len - 2);
        *len -= 3;
    }
    return 1;
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i]))
            return false;
    return true;
}

/* Parse a literal and encode it; on error a message in in->err. */
static int encode_literal(input *in, const char *what, const char *s, size_t n, kl_buf *out)
{
    kl_value v;
    int rc = kl_parse(s, n, &v);
    if (!rc) {
        rc = kl_encode(out, &v, 0);
        kl_value_free(&v);
    }
    if (rc)
        snprintf(in->err, sizeof in->err, "%s: %s", what, kl_errmsg());
    return rc;
}

/* One JSON line into key and value bytes. */
static int json_entry(input *in, const char *s, size_t n, kl_buf *key, kl_buf *val)
{
    kl_value obj;
    int rc = kl_json_parse(s, n, &obj);
    if (rc) {
        snprintf(in->err, sizeof in->err, "bad JSON: %s", kl_errmsg());
        return rc;
    }
    static const char *const names[4] = {"key", "value", "key_repr", "value_repr"};
    const kl_value *m[4] = {NULL, NULL, NULL, NULL};
    if (obj.type != KL_MAP) {
        snprintf(in->err, sizeof in->err, "expected a JSON object {\"key\": ..., \"value\": ...}");
        rc = KL_EINVAL;
        goto out;
    }
    for (size_t i = 0; i < obj.u.m.len; i++) {
        const kl_value *name = &obj.u.m.items[2 * i];
        for (int f = 0; f < 4; f++) {
            if (name->u.s.len != strlen(names[f]) ||
                memcmp(name->u.s.ptr, names[f], name->u.s.len) != 0)
                continue;
            if (m[f]) {
                snprintf(in->err, sizeof in->err, "\"%s\" appears twice", names[f]);
                rc = KL_EINVAL;
                goto out;
            }
            m[f] = &obj.u.m.items[2 * i + 1];
        }
    }
    for (int f = 0; f < 2; f++) {
        kl_buf *out = f ? val : key;
        const kl_value *lit = m[f + 2];
        if (lit) {
            if (lit->type != KL_TEXT) {
                snprintf(in->err, sizeof in->err, "\"%s\" must be a string", names[f + 2]);
                rc = KL_EINVAL;
                goto out;
            }
            if ((rc = encode_literal(in, names[f + 2], lit->u.s.ptr, lit->u.s.len, out)) != 0)
                goto out;
        } else if (m[f]) {
            if ((rc = kl_encode(out, m[f], 0)) != 0) {
                snprintf(in->err, sizeof in->err, "%s: %s", names[f], kl_errmsg());
                goto out;
            }
        } else {
            snprintf(in->err, sizeof in->err, "no \"%s\" (or \"%s\")", names[f], names[f + 2]);
            rc = KL_EINVAL;
            goto out;
        }
    }
out:
    kl_value_free(&obj);
    return rc;
}

/* One CSV record (RFC 4180, either line ending) into its fields; a quoted
 * field may span lines.  Returns 1, 0 at the end, or an error with
 * in->err set.  *first is the line the record starts on. */
static int csv_record(input *in, kl_buf *fields, size_t maxf, size_t *nf, size_t *first)
{
    ssize_t len;
    int rc;
    do {
        if ((rc = input_line(in, &len)) <= 0)
            return rc;
    } while (blank(in->line, (size_t)len)); /* e.g. a final empty line */
    *first = in->lineno;
    *nf = 0;
    size_t f = 0;
    fields[0].len = 0;
    const char *p = in->line, *end = in->line + len;
    for (;;) {
        if (f >= maxf) {
            snprintf(in->err, sizeof in->err, "more than %zu fields", maxf);
            return KL_EINVAL;
        }
        kl_buf *b = &fields[f];
        b->len = 0;
        if (p < end && *p == '"') {
            p++;
            for (;;) {
                if (p == end) { /* the quoted field goes on on the next line */
                    if ((rc = input_line(in, &len)) < 0)
                        return rc;
                    if (rc == 0) {
                        snprintf(in->err, sizeof in->err, "quoted field never closed");
                        return KL_EINVAL;
                    }
                    p = in->line;
                    end = in->line + len;
                    continue;
                }
                if (*p == '"') {
                    if (p + 1 < end && p[1] == '"') {
                        if (kl_buf_append(b, "\"", 1))
                            return KL_ENOMEM;
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                const char *q = memchr(p, '"', (size_t)(end - p));
                if (!q)
                    q = end;
                if (kl_buf_append(b, p, (size_t)(q - p)))
                    return KL_ENOMEM;
                p = q;
            }
        } else {
            const char *q = p;
            while (q < end && *q != ',' && *q != '\n' && *q != '\r' && *q != '"')
                q++;
            if (q < end && *q == '"') {
                snprintf(in->err, sizeof in->err,
                         "field %zu: a quote inside an unquoted field (quote the field, double "
                         "its quotes)",
                         f + 1);
                return KL_EINVAL;
            }
            if (kl_buf_append(b, p, (size_t)(q - p)))
                return KL_ENOMEM;
            p = q;
        }
        f++;
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == '\r')
            p++;
        if (p < end && *p == '\n')
            p++;
        if (p != end) {
            snprintf(in->err, sizeof in->err, "field %zu: text after the closing quote", f);
            return KL_EINVAL;
        }
        break;
    }
    *nf = f;
    return 1;
}

static bool field_is(const kl_buf *b, const char *s)
{
    return b->len == strlen(s) && memcmp(b->data, s, b->len) == 0;
}

static bool ends_with_csv(const char *path)
{
    size_t n = strlen(path);
    return n >= 4 && !strcasecmp(path + n - 4, ".csv");
}

typedef struct batch {
    kl_buf keys[IMPORT_BATCH], vals[IMPORT_BATCH];
    const void *kp[IMPORT_BATCH], *vp[IMPORT_BATCH];
    size_t kl[IMPORT_BATCH], vl[IMPORT_BATCH];
    size_t n;
} batch;

static int batch_put(kl_archive *ar, batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        b->kp[i] = b->keys[i].data;
        b->kl[i] = b->keys[i].len;
        b->vp[i] = b->vals[i].data;
        b->vl[i] = b->vals[i].len;
    }
    int rc = b->n ? kl_archive_put_many(ar, b->n, b->kp, b->kl, b->vp, b->vl) : 0;
    b->n = 0;
    return rc;
}

static const char import_usage[] =
    "usage: klepto import URL [--format json|csv] [FILE] [--progress|--quiet]";
static const char import_about[] =
    "Read entries from FILE (or stdin, or -) in the format export writes and\n"
    "store them; prints a summary line.  The format defaults to csv for a\n"
    "FILE ending in .csv, json otherwise.  A progress line (bytes of FILE\n"
    "read, or entries from a pipe) shows on stderr when it is a terminal;\n"
    "--progress and --quiet force it on or off.\n";

int cli_cmd_import(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help(import_usage, import_about);
    int mode, r = cli_progress_mode(&argc, argv, &mode);
    if (r)
        return r;
    const char *url = NULL, *path = NULL, *val;
    int fmt = -1;
    for (int i = 0; i < argc; i++) {
        if ((r = cli_take_opt(argc, argv, &i, "--format", &val)) != 0) {
            if (r < 0)
                return cli_usage("import: --format needs a value (json or csv)");
            if (parse_format("import", val, &fmt))
                return CLI_USAGE;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage("import: unknown option '%s'", argv[i]);
        } else if (!url) {
            url = argv[i];
        } else if (!path) {
            path = argv[i];
        } else {
            return cli_usage("import: unexpected argument '%s'", argv[i]);
        }
    }
    if (!url)
        return cli_usage("%s", import_usage);
    bool use_stdin = !path || !strcmp(path, "-");
    if (fmt < 0)
        fmt = !use_stdin && ends_with_csv(path) ? FMT_CSV : FMT_JSON;
    input in = {.f = stdin, .name = "<stdin>"};
    if (!use_stdin) {
        in.name = path;
        if (!(in.f = fopen(path, "r"))) {
            fprintf(stderr, "klepto: %s: %s\n", path, strerror(errno));
            return errno == ENOENT ? CLI_USAGE : CLI_IO;
        }
    }
    kl_archive *ar = NULL;
    int st = cli_open(&ar, url, true);
    bool opened = st == 0;
    batch *b = st ? NULL : calloc(1, sizeof *b);
    if (!st && !b) {
        fprintf(stderr, "klepto: import: out of memory\n");
        st = CLI_IO;
    }
    /* progress in bytes of a regular file, else in entries */
    struct stat fst;
    bool by_bytes = !use_stdin && fstat(fileno(in.f), &fst) == 0 && S_ISREG(fst.st_mode);
    cli_progress pg;
    cli_progress_start(&pg, st ? CLI_PROGRESS_OFF : mode, "import", by_bytes,
                       by_bytes ? (uint64_t)fst.st_size : 0);
    size_t imported = 0, where = 0, nf;
    kl_buf fields[2] = {KL_BUF_INIT, KL_BUF_INIT};
    int rc = 0;
    bool header = fmt == FMT_CSV;
    while (!st) {
        kl_buf *key = &b->keys[b->n], *v = &b->vals[b->n];
        key->len = v->len = 0;
        if (fmt == FMT_JSON) {
            ssize_t len;
            if ((rc = input_line(&in, &len)) <= 0)
                break;
            where = in.lineno;
            if (blank(in.line, (size_t)len))
                continue;
            rc = json_entry(&in, in.line, (size_t)len, key, v);
        } else {
            if ((rc = csv_record(&in, fields, 2, &nf, &where)) < 0)
                break;
            if (rc == 0) {
                if (header) {
                    snprintf(in.err, sizeof in.err, "empty input: the header key,value is missing");
                    rc = KL_EINVAL;
                    where = 1;
                }
                break;
            }
            rc = 0;
            if (nf != 2) {
                snprintf(in.err, sizeof in.err, "expected 2 fields (key,value), found %zu", nf);
                rc = KL_EINVAL;
            } else if (header) {
                header = false;
                if (!field_is(&fields[0], "key") || !field_is(&fields[1], "value")) {
                    snprintf(in.err, sizeof in.err, "the first line must be the header key,value");
                    rc = KL_EINVAL;
                } else {
                    continue;
                }
            } else if (!(rc = encode_literal(&in, "key", (const char *)fields[0].data,
                                             fields[0].len, key))) {
                rc = encode_literal(&in, "value", (const char *)fields[1].data, fields[1].len, v);
            }
        }
        if (rc)
            break;
        if (pg.on && by_bytes) { /* only when drawn: ftell is a system call */
            long at = ftell(in.f);
            if (at > 0 && (uint64_t)at > pg.done)
                cli_progress_add(&pg, (uint64_t)at - pg.done);
        } else if (pg.on) {
            cli_progress_add(&pg, 1);
        }
        if (++b->n == IMPORT_BATCH) {
            size_t n = b->n;
            if ((rc = batch_put(ar, b)) != 0)
                break;
            imported += n;
        }
    }
    cli_progress_end(&pg);
    if (!st && rc == KL_EIO && in.err[0]) {
        fprintf(stderr, "klepto: %s:%zu: %s\n", in.name, in.lineno, in.err);
        st = CLI_IO;
    } else if (!st && rc && in.err[0]) {
        /* the batch holding the bad entry is not written */
        fprintf(stderr, "klepto: %s:%zu: %s (%zu entries imported before it)\n", in.name, where,
                in.err, imported);
        st = CLI_USAGE;
    } else if (!st && rc) {
        st = cli_fail(rc, url);
    } else if (!st) {
        size_t n = b->n;
        if ((rc = batch_put(ar, b)) != 0)
            st = cli_fail(rc, url);
        else
            imported += n;
    }
    if (opened) {
        int rc2 = kl_archive_close(ar);
        if (rc2 && !st)
            st = cli_fail(rc2, url);
    }
    if (!st) {
        char *shown = cli_url_shown(url);
        printf("imported %zu entries into %s\n", imported, shown);
        cli_url_free(shown);
    }
    if (b)
        for (size_t i = 0; i < IMPORT_BATCH; i++) {
            kl_buf_free(&b->keys[i]);
            kl_buf_free(&b->vals[i]);
        }
    free(b);
    kl_buf_free(&fields[0]);
    kl_buf_free(&fields[1]);
    free(in.line);
    if (!use_stdin)
        fclose(in.f);
    return st;
}
