/* bench_dp: samples per second of the exact discrete Laplace and discrete Gaussian samplers
 * on one core, over the parameter ranges the DP queries use. Prints markdown rows. */
#include "privacy/privacy.h"

#include <sodium.h>
#include <stdio.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    coh_dp_rng *r;
    if (coh_dp_rng_new(&r) != 0)
        return 1;
    struct {
        const char *name;
        int gauss;
        uint64_t a, b;
        size_t n;
    } cfg[] = {
        {"discrete Laplace, scale 1 (count, epsilon 1)", 0, 1, 1, 4000000},
        {"discrete Laplace, scale 10 (count, epsilon 0.1)", 0, 1, 10, 4000000},
        {"discrete Laplace, scale 7/3", 0, 3, 7, 4000000},
        {"discrete Laplace, scale 2^20 (sum on the lattice)", 0, 1, 1u << 20, 2000000},
        {"discrete Gaussian, sigma^2 = 1", 1, 1, 1, 2000000},
        {"discrete Gaussian, sigma^2 = 22.15^2 (count, eps 1/4, delta 2.5e-7)", 1, 514299, 1048,
         2000000},
        {"discrete Gaussian, sigma^2 = 10^6", 1, 1000000, 1, 2000000},
    };
    printf("| sampler | samples | seconds | samples/s |\n|---|---:|---:|---:|\n");
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        volatile int64_t sink = 0;
        double t0 = now();
        for (size_t i = 0; i < cfg[c].n; i++)
            sink += cfg[c].gauss ? coh_dp_gaussian_sample(r, cfg[c].a, cfg[c].b)
                                 : coh_dp_laplace_sample(r, cfg[c].a, cfg[c].b);
        double dt = now() - t0;
        (void)sink;
        printf("| %s | %zu | %.3f | %.0f |\n", cfg[c].name, cfg[c].n, dt, (double)cfg[c].n / dt);
    }
    coh_dp_rng_free(r);
    return 0;
}
