/*
 * deposit_watch: the deposit watcher inside the chain worker (private to src/svc).
 */
#ifndef COH_SVC_DEPOSIT_WATCH_H
#define COH_SVC_DEPOSIT_WATCH_H

#include "svc/svc.h"

struct coh_svc_deposit_watch {
    coh_chain_rpc *rpc;                            /* borrowed from the worker */
    const struct coh_svc_chain_worker_config *cfg; /* borrowed from the worker */
    uint8_t topic_deposit[32], topic_claim[32];
};

void coh_svc_deposit_watch_init(struct coh_svc_deposit_watch *cw, coh_chain_rpc *rpc,
                                const struct coh_svc_chain_worker_config *cfg);
/* Credits the events of the next confirmed range, or rewinds after a deep reorg. */
COH_WUR int coh_svc_deposit_watch_step(const struct coh_svc_deposit_watch *cw, coh_err *err);

#endif
