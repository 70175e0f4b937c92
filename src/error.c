/* SPDX-License-Identifier: BSD-3-Clause */
/* Error codes' names and the thread-local detail message. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char tls_msg[512];

const char *kl_strerror(int code)
{
    switch (code) {
    case KL_OK: return "success";
    case KL_ENOTFOUND: return "not found";
    case KL_EINVAL: return "invalid argument";
    case KL_ECORRUPT: return "corrupt data";
    case KL_EIO: return "I/O error";
    case KL_EBACKEND: return "backend error";
    case KL_ENOMEM: return "out of memory";
    case KL_EVERSION: return "unsupported format version";
    case KL_ETOOBIG: return "too big";
    case KL_ETYPE: return "unsupported type";
    case KL_EPERM: return "permission denied";
    case KL_ENOSPC: return "no space left on device";
    case KL_EFUNC: return "function failed";
    case KL_EUNSUPPORTED: return "operation not supported";
    case KL_EBUSY: return "busy";
    case KL_ERANGE: return "out of range";
    default: return "unknown error";
    }
}

const char *kl_errmsg(void) { return tls_msg; }

void kl_errclear(void) { tls_msg[0] = '\0'; }

int kl_seterr(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_msg, sizeof tls_msg, fmt, ap);
    va_end(ap);
    return code;
}

int kl_seterr_prefix(int code, const char *fmt, ...)
{
    char prev[sizeof tls_msg], prefix[256];
    snprintf(prev, sizeof prev, "%s", tls_msg); /* the message is rewritten in place */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    int n = snprintf(tls_msg, sizeof tls_msg, "%s: ", prefix);
    if (n > 0 && (size_t)n < sizeof tls_msg) { /* the previous message, cut to fit */
        size_t k = strnlen(prev, sizeof tls_msg - (size_t)n - 1);
        memcpy(tls_msg + n, prev, k);
        tls_msg[(size_t)n + k] = '\0';
    }
    return code;
}

int kl__opts_version_check(unsigned version, unsigned current, const char *what)
{
    if (version >= 1 && version <= current)
        return 0;
    return kl_seterr(KL_EINVAL, "%s: options version %u unknown (this library knows 1 to %u; "
                     "start from the _OPTS_INIT of its header)", what, version, current);
}

int kl__errno_code(int err)
{
    switch (err) {
    case ENOENT: return KL_ENOTFOUND;
    case EACCES:
    case EPERM:
    case EROFS: return KL_EPERM;
    case ENOSPC:
    case EDQUOT: return KL_ENOSPC;
    case ENOMEM: return KL_ENOMEM;
    case ENAMETOOLONG: return KL_EINVAL;
    default: return KL_EIO;
    }
}

int kl_seterrno(int err, const char *what, const char *path)
{
    return kl_seterr(kl__errno_code(err), "%s%s%s: %s", path ? path : "", path ? ": " : "",
                     what, strerror(err));
}
