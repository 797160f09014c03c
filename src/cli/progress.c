/* progress: see progress.h. Redraws only when the percentage or phase changes. */
#include "cli/progress.h"

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

struct coh_cli_bar coh_cli_bar_for(const char *input)
{
    struct stat st;
    struct coh_cli_bar b = {.on = isatty(STDERR_FILENO) && stat(input, &st) == 0 &&
                                  st.st_size >= (4 << 20),
                            .phase = NULL,
                            .last = -1};
    return b;
}

void coh_cli_bar_progress(void *ctx, const char *phase, uint64_t done, uint64_t total)
{
    struct coh_cli_bar *b = ctx;
    if (!b->on || total == 0)
        return;
    int pct = (int)(done * 100 / total);
    if (b->phase == phase && pct == b->last)
        return;
    b->phase = phase;
    b->last = pct;
    int fill = pct / 4;
    fprintf(stderr, "\r%-13s [%.*s%*s] %3d%%", phase, fill, "#########################", 25 - fill,
            "", pct);
    if (pct >= 100)
        fputc('\n', stderr);
}
