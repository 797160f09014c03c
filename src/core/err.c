/* err: a code plus a caller-safe message; http maps codes to status, nothing else does. */
#include "core/core.h"

#include <stdio.h>

int coh_err_set(coh_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        err->reason = NULL;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

int coh_err_reason(coh_err *err, const char *reason)
{
    if (!err)
        return 0;
    err->reason = reason;
    return err->code;
}

const char *coh_strerror(int code)
{
    switch (code) {
    case COH_OK: return "ok";
    case COH_ERR_NOMEM: return "out of memory";
    case COH_ERR_INVALID: return "invalid input";
    case COH_ERR_NOTFOUND: return "not found";
    case COH_ERR_IO: return "i/o error";
    case COH_ERR_CRYPTO: return "cryptographic failure";
    case COH_ERR_CONFLICT: return "conflict";
    case COH_ERR_DB: return "database error";
    case COH_ERR_UNAVAILABLE: return "unavailable";
    case COH_ERR_FORBIDDEN: return "forbidden";
    case COH_ERR_LIMIT: return "limit exceeded";
    default: return "unknown error";
    }
}
