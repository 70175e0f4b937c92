/* SPDX-License-Identifier: BSD-3-Clause */
/* See sql_names.h. */
#include "archive/util/sql_names.h"

#include <ctype.h>
#include <inttypes.h>
#include <strings.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

int kl__sql_quote_ident(kl_buf *out, const char *name)
{
    int rc = kl_buf_append(out, "\"", 1);
    for (const char *p = name; rc == 0 && *p; p++) {
        rc = *p == '"' ? kl_buf_append(out, "\"\"", 2) : kl_buf_append(out, p, 1);
    }
    return rc ? rc : kl_buf_append(out, "\"", 1);
}

int kl__sql_check_table(const char *url, const char *name, size_t maxlen)
{
    size_t n = strlen(name);
    if (n == 0)
        return kl_seterr(KL_EINVAL, "%s: empty table name", url);
    if (maxlen && n > maxlen)
        return kl_seterr(KL_EINVAL, "%s: table name longer than %zu bytes", url, maxlen);
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return kl_seterr(KL_EINVAL, "%s: control character in table name", url);
    }
    return 0;
}

int kl__sql_reserved_table(const char *name)
{
    if (!strcasecmp(name, KL_SQL_CATALOGUE) || !strncasecmp(name, "sqlite_", 7))
        return 1;
    size_t np = strlen(KL_SQL_ENTRY_PREFIX);
    if (strncasecmp(name, KL_SQL_ENTRY_PREFIX, np) || !name[np])
        return 0;
    for (const char *p = name + np; *p; p++)
        if (!isdigit((unsigned char)*p))
            return 0;
    return 2;
}

void kl__sql_entry_table(char *out, int64_t id)
{
    snprintf(out, KL_SQL_ENTRY_NAME_MAX, KL_SQL_ENTRY_PREFIX "%" PRId64, id);
}
