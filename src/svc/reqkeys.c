/*
 * reqkeys: at start, re-wraps once the request keys stored before they were bound to their
 * request (src/market/reqkey.c has the format; src/db/market.c the two statements).
 */
#include "svc/svc.h"

#include <stdlib.h>

int coh_svc_reqkeys_upgrade(coh_db_pool *db, const coh_secbuf *master, long *upgraded, coh_err *err)
{
    *upgraded = 0;
    PGresult *r = NULL;
    int rc = coh_db_reqkeys_legacy(&r, db, COH_MARKET_REQKEY_LEGACY_BYTES, err);
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        const char *id = PQgetvalue(r, i, 0), *old_hex = PQgetvalue(r, i, 1);
        uint8_t old[COH_MARKET_REQKEY_LEGACY_BYTES], pk[32], fresh[COH_MARKET_REQKEY_BYTES];
        if (coh_hex_decode_exact(old, sizeof old, old_hex) != 0 ||
            coh_hex_decode_exact(pk, sizeof pk, PQgetvalue(r, i, 2)) != 0 ||
            coh_market_reqkey_rewrap(fresh, master, id, old, sizeof old, pk) != 0) {
            coh_log_error("request %s: its stored secret key does not open under the master key "
                          "or does not match its public key; left as it is",
                          id);
            continue;
        }
        int done = 0;
        rc = coh_db_reqkey_replace(&done, db, id, fresh, sizeof fresh, old, sizeof old, err);
        *upgraded += done;
    }
    PQclear(r);
    return rc;
}
