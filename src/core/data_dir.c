/*
 * data_dir: where cohortd finds its migrations (sql/), web app (web/) and OpenAPI document
 * unless sql_dir, web_dir and openapi_path say otherwise: the defaults settings.c's table
 * points at. This file is compiled twice (src/core/CMakeLists.txt) and each executable links
 * one of the two builds, so a binary never has to guess which it is:
 *
 *  - coh_data_source, for the build tree's binaries (build/cohortd, the CLI, every test):
 *    COH_DATA_DIR is the source tree, so scripts/run.sh and the tests serve what is edited.
 *  - coh_data_installed, for the binaries `cmake --install` copies: COH_DATA_DIR is the
 *    configured PREFIX/share/cohort, and with COH_DATA_BINDIR and COH_DATA_SUBDIR (both
 *    relative to the prefix) the prefix is taken from the binary's own path before main:
 *    PREFIX/bin/cohortd reads PREFIX/share/cohort, so `cmake --install --prefix P` gives a
 *    working tree under P. A binary not in a .../bin directory keeps the configured one.
 *
 * The arrays are written only before main (the constructor), and read-only after.
 */
#include "core/core.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef COH_DATA_DIR
#error "COH_DATA_DIR: set by src/core/CMakeLists.txt"
#endif

#define DATA_PATH_MAX 4096

char coh_settings_default_sql_dir[DATA_PATH_MAX] = COH_DATA_DIR "/sql";
char coh_settings_default_web_dir[DATA_PATH_MAX] = COH_DATA_DIR "/web";
char coh_settings_default_openapi_path[DATA_PATH_MAX] = COH_DATA_DIR "/openapi.yaml";

#if defined(COH_DATA_BINDIR) && defined(COH_DATA_SUBDIR)
/* PREFIX from /proc/self/exe (symlinks resolved) when it is PREFIX/COH_DATA_BINDIR/NAME. */
static int install_prefix(char *out, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", out, cap - 1);
    if (n <= 0 || (size_t)n >= cap - 1)
        return -1;
    out[n] = '\0';
    char *name = strrchr(out, '/');
    if (!name)
        return -1;
    *name = '\0'; /* out: the binary's directory */
    size_t dir = strlen(out), bin = strlen(COH_DATA_BINDIR);
    if (dir <= bin || out[dir - bin - 1] != '/' || strcmp(out + dir - bin, COH_DATA_BINDIR) != 0)
        return -1;
    out[dir - bin - 1] = '\0'; /* "" when the prefix is "/" */
    return 0;
}

__attribute__((constructor)) static void data_dir_relocate(void)
{
    char prefix[DATA_PATH_MAX], sql[DATA_PATH_MAX], web[DATA_PATH_MAX], api[DATA_PATH_MAX];
    if (install_prefix(prefix, sizeof prefix) != 0)
        return;
    int a = snprintf(sql, sizeof sql, "%s/%s/sql", prefix, COH_DATA_SUBDIR);
    int b = snprintf(web, sizeof web, "%s/%s/web", prefix, COH_DATA_SUBDIR);
    int c = snprintf(api, sizeof api, "%s/%s/openapi.yaml", prefix, COH_DATA_SUBDIR);
    if (a < 0 || b < 0 || c < 0 || a >= DATA_PATH_MAX || b >= DATA_PATH_MAX || c >= DATA_PATH_MAX)
        return; /* all three or none */
    memcpy(coh_settings_default_sql_dir, sql, (size_t)a + 1);
    memcpy(coh_settings_default_web_dir, web, (size_t)b + 1);
    memcpy(coh_settings_default_openapi_path, api, (size_t)c + 1);
}
#endif
