/*
 * replay: a main for the harnesses when libFuzzer is not linked (gcc builds). Runs
 * LLVMFuzzerTestOneInput once on every file named on the command line and on every regular
 * file inside the directories named (not recursive). Missing paths and libFuzzer-style
 * "-flag" arguments are skipped, so the same ctest command line serves both builds.
 * Exit status: 0 after every input ran; a failing input aborts the process.
 */
#include "fuzz.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (!buf)
        return -1;
    /* An exact-size heap copy (malloc(0) for an empty input), so ASan sees reads past the
     * input's end, as under libFuzzer. */
    uint8_t *exact = malloc(len);
    if (!exact && len) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

int main(int argc, char **argv)
{
    size_t ran = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-')
            continue;
        struct stat st;
        if (stat(argv[i], &st) != 0)
            continue;
        if (S_ISREG(st.st_mode)) {
            ran += run_file(argv[i]) == 0;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
                ran += run_file(path) == 0;
        }
        closedir(d);
    }
    printf("replayed %zu inputs\n", ran);
    return 0;
}
