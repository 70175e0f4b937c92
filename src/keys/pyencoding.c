/* SPDX-License-Identifier: BSD-3-Clause */
/* Python's text encodings for stringmap(encoding=…): name lookup as
 * Python's codec registry does it, and the Unicode encodings plus Latin-1
 * and ASCII written by hand.  Hand-written because the key bytes must be
 * Python's to the byte (BOMs of utf_16/utf_32, strict errors), and the
 * few lines here are simpler to check against Python than iconv's
 * differing names, BOM rules and tables. */
#include "pyencoding.h"

#include "internal.h"

#include <stdbool.h>
#include <stdint.h>

enum {
    C_UTF8, C_UTF8_SIG, C_UTF16, C_UTF16_LE, C_UTF16_BE, C_UTF32, C_UTF32_LE, C_UTF32_BE,
    C_LATIN1, C_ASCII, C_COUNT
};

static const char *const codec_names[C_COUNT] = {
    "utf_8", "utf_8_sig", "utf_16", "utf_16_le", "utf_16_be",
    "utf_32", "utf_32_le", "utf_32_be", "latin_1", "ascii",
};

/* Python's encodings.aliases entries for the codecs above. */
static const struct {
    const char *alias;
    int codec;
} aliases[] = {
    {"646", C_ASCII}, {"ansi_x3.4_1968", C_ASCII}, {"ansi_x3.4_1986", C_ASCII},
    {"ansi_x3_4_1968", C_ASCII}, {"cp367", C_ASCII}, {"csascii", C_ASCII},
    {"ibm367", C_ASCII}, {"iso646_us", C_ASCII}, {"iso_646.irv_1991", C_ASCII},
    {"iso_ir_6", C_ASCII}, {"us", C_ASCII}, {"us_ascii", C_ASCII},
    {"8859", C_LATIN1}, {"cp819", C_LATIN1}, {"csisolatin1", C_LATIN1},
    {"ibm819", C_LATIN1}, {"iso8859", C_LATIN1}, {"iso8859_1", C_LATIN1},
    {"iso_8859_1", C_LATIN1}, {"iso_8859_1_1987", C_LATIN1}, {"iso_ir_100", C_LATIN1},
    {"l1", C_LATIN1}, {"latin", C_LATIN1}, {"latin1", C_LATIN1},
    {"cp65001", C_UTF8}, {"u8", C_UTF8}, {"utf", C_UTF8}, {"utf8", C_UTF8},
    {"utf8_ucs2", C_UTF8}, {"utf8_ucs4", C_UTF8},
    {"u16", C_UTF16}, {"utf16", C_UTF16}, {"u32", C_UTF32}, {"utf32", C_UTF32},
    {"unicodebigunmarked", C_UTF16_BE}, {"unicodelittleunmarked", C_UTF16_LE},
    {"utf_16be", C_UTF16_BE}, {"utf_16le", C_UTF16_LE},
    {"utf_32be", C_UTF32_BE}, {"utf_32le", C_UTF32_LE},
};

/* The other codecs Python (and so klepto) knows; we refuse them by name. */
static const char *const python_only =
    "big5 big5hkscs charmap cp037 cp1006 cp1026 cp1125 cp1140 cp1250 cp1251 cp1252 cp1253 "
    "cp1254 cp1255 cp1256 cp1257 cp1258 cp273 cp424 cp437 cp500 cp720 cp737 cp775 cp850 "
    "cp852 cp855 cp856 cp857 cp858 cp860 cp861 cp862 cp863 cp864 cp865 cp866 cp869 cp874 "
    "cp875 cp932 cp949 cp950 euc_jis_2004 euc_jisx0213 euc_jp euc_kr gb18030 gb2312 gbk "
    "hp_roman8 hz idna iso2022_jp iso2022_jp_1 iso2022_jp_2 iso2022_jp_2004 iso2022_jp_3 "
    "iso2022_jp_ext iso2022_kr iso8859_10 iso8859_11 iso8859_13 iso8859_14 iso8859_15 "
    "iso8859_16 iso8859_2 iso8859_3 iso8859_4 iso8859_5 iso8859_6 iso8859_7 iso8859_8 "
    "iso8859_9 johab koi8_r koi8_t koi8_u kz1048 mac_arabic mac_croatian mac_cyrillic "
    "mac_farsi mac_greek mac_iceland mac_latin2 mac_roman mac_romanian mac_turkish mbcs oem "
    "palmos ptcp154 punycode raw_unicode_escape shift_jis shift_jis_2004 shift_jisx0213 "
    "tis_620 undefined unicode_escape utf_7";

#define KNOWN_LIST                                                                          \
    "str, repr, ascii (the builtins), and the codecs utf_8, utf_8_sig, utf_16, utf_16_le, " \
    "utf_16_be, utf_32, utf_32_le, utf_32_be, latin_1, ascii under their Python names and " \
    "aliases"

/* Python's codec-name normalisation: lower case, every run of characters
 * other than letters, digits and '.' becomes one '_' between words. */
static bool normalise(const char *name, char *out, size_t cap)
{
    size_t n = 0;
    bool punct = false;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        unsigned char c = *p;
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.') {
            if (punct && n) {
                if (n + 1 >= cap)
                    return false;
                out[n++] = '_';
            }
            if (n + 1 >= cap)
                return false;
            out[n++] = (char)c;
            punct = false;
        } else {
            punct = true;
        }
    }
    out[n] = '\0';
    return true;
}

static int lookup(const char *norm)
{
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (!strcmp(aliases[i].alias, norm))
            return aliases[i].codec;
    return -1;
}

/* Is word one of the space-separated words of list? */
static bool in_list(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !memcmp(p, word, n))
            return true;
        if (!e)
            break;
        p = e + 1;
    }
    return false;
}

int kl__strenc_find(const char *name, kl__strenc *kind, int *codec)
{
    *codec = -1;
    if (!name) {
        *kind = KL__STRENC_STR;
        return 0;
    }
    /* klepto evaluates these names as the builtins (exact spelling only) */
    if (!strcmp(name, "str") || !strcmp(name, "repr") || !strcmp(name, "ascii")) {
        *kind = name[0] == 's' ? KL__STRENC_STR
                : name[0] == 'r' ? KL__STRENC_REPR
                                 : KL__STRENC_ASCII;
        return 0;
    }
    char norm[64], under[64];
    if (normalise(name, norm, sizeof norm) && norm[0]) {
        size_t i = 0;
        for (; norm[i]; i++)
            under[i] = norm[i] == '.' ? '_' : norm[i];
        under[i] = '\0';
        int c = lookup(norm);
        if (c < 0)
            c = lookup(under);
        for (int k = 0; c < 0 && k < C_COUNT; k++)
            if (!strcmp(norm, codec_names[k]))
                c = k;
        if (c >= 0) {
            *kind = KL__STRENC_CODEC;
            *codec = c;
            return 0;
        }
        if (in_list(python_only, norm))
            return kl_seterr(KL_EINVAL,
                             "keymap string: encoding '%s' is a Python codec klepto for C does "
                             "not write (known: " KNOWN_LIST ")",
                             name);
    }
    return kl_seterr(KL_EINVAL,
                     "keymap string: unknown encoding '%s', or one klepto for C does not write "
                     "(known: " KNOWN_LIST ")",
                     name);
}

const char *kl__codec_name(int codec)
{
    return codec >= 0 && codec < C_COUNT ? codec_names[codec] : "?";
}

/* The next code point of UTF-8 text at *p (advanced), or -1 when the bytes
 * are not well-formed UTF-8 (surrogates and overlong forms included). */
static int32_t next_cp(const unsigned char **p, const unsigned char *end)
{
    const unsigned char *s = *p;
    unsigned c = s[0];
    int len;
    uint32_t cp, min;
    if (c < 0x80) {
        *p = s + 1;
        return (int32_t)c;
    } else if ((c & 0xe0) == 0xc0) {
        len = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return -1;
    }
    if (end - s < len)
        return -1;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    *p = s + len;
    return (int32_t)cp;
}

static int put_unit(kl_buf *out, uint32_t u, int width, bool big)
{
    uint8_t b[4];
    for (int i = 0; i < width; i++)
        b[big ? width - 1 - i : i] = (uint8_t)(u >> (8 * i));
    return kl_buf_append(out, b, (size_t)width);
}

int kl__codec_encode(int codec, const char *text, size_t n, kl_buf *out)
{
    const unsigned char *p = (const unsigned char *)text, *end = p + n;
    int rc = 0;
    /* Python writes the BOM of utf_16 and utf_32 in the machine's order
     * (little-endian on every platform we build for) and then that order. */
    switch (codec) {
    case C_UTF8_SIG: rc = kl_buf_append(out, "\xef\xbb\xbf", 3); break;
    case C_UTF16: rc = kl_buf_append(out, "\xff\xfe", 2); break;
    case C_UTF32: rc = kl_buf_append(out, "\xff\xfe\x00\x00", 4); break;
    default: break;
    }
    if (!rc && (codec == C_UTF8 || codec == C_UTF8_SIG)) {
        for (const unsigned char *q = p; q < end;)
            if (next_cp(&q, end) < 0)
                return kl_seterr(KL_ETYPE, "keymap string: the key is not valid UTF-8 text");
        return kl_buf_append(out, text, n);
    }
    for (size_t at = 0; !rc && p < end; at++) {
        int32_t cp = next_cp(&p, end);
        if (cp < 0)
            return kl_seterr(KL_ETYPE, "keymap string: the key is not valid UTF-8 text");
        switch (codec) {
        case C_UTF16:
        case C_UTF16_LE:
        case C_UTF16_BE: {
            bool big = codec == C_UTF16_BE;
            if (cp >= 0x10000) {
                uint32_t v = (uint32_t)cp - 0x10000;
                if (!(rc = put_unit(out, 0xd800 | v >> 10, 2, big)))
                    rc = put_unit(out, 0xdc00 | (v & 0x3ff), 2, big);
            } else {
                rc = put_unit(out, (uint32_t)cp, 2, big);
            }
            break;
        }
        case C_UTF32:
        case C_UTF32_LE:
        case C_UTF32_BE: rc = put_unit(out, (uint32_t)cp, 4, codec == C_UTF32_BE); break;
        case C_LATIN1:
        case C_ASCII:
            if (cp >= (codec == C_ASCII ? 0x80 : 0x100))
                return kl_seterr(KL_ETYPE,
                                 "keymap string: '%s' codec can't encode character U+%04X in "
                                 "position %zu of the key's text",
                                 codec_names[codec], (unsigned)cp, at);
            rc = put_unit(out, (uint32_t)cp, 1, false);
            break;
        default: return kl_seterr(KL_EINVAL, "keymap string: unknown codec %d", codec);
        }
    }
    return rc;
}

int kl__ascii_escape(const char *text, size_t n, kl_buf *out)
{
    const unsigned char *p = (const unsigned char *)text, *end = p + n;
    int rc = 0;
    while (!rc && p < end) {
        const unsigned char *start = p;
        while (p < end && *p < 0x80)
            p++;
        if (p > start && (rc = kl_buf_append(out, start, (size_t)(p - start))))
            return rc;
        if (p == end)
            break;
        int32_t cp = next_cp(&p, end);
        if (cp < 0)
            return kl_seterr(KL_ETYPE, "keymap string: the key is not valid UTF-8 text");
        if (cp < 0x100)
            rc = kl_buf_printf(out, "\\x%02x", (unsigned)cp);
        else if (cp < 0x10000)
            rc = kl_buf_printf(out, "\\u%04x", (unsigned)cp);
        else
            rc = kl_buf_printf(out, "\\U%08x", (unsigned)cp);
    }
    return rc;
}
