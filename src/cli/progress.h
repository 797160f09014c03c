/* progress: a one-line progress bar on stderr for long CSV jobs, only on a terminal. */
#ifndef COH_CLI_PROGRESS_H
#define COH_CLI_PROGRESS_H

#include <stdint.h>

struct coh_cli_bar {
    int on;            /* drawing at all: stderr is a terminal and the input is large */
    const char *phase; /* last phase drawn */
    int last;          /* last percentage drawn */
};

/* A bar that draws when stderr is a terminal and input is over 4 MiB (about a million short rows). */
struct coh_cli_bar coh_cli_bar_for(const char *input);
/* coh_privacy_progress_fn: ctx is a struct coh_cli_bar. */
void coh_cli_bar_progress(void *ctx, const char *phase, uint64_t done, uint64_t total);

#endif
