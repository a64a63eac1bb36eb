/*
 * bench_modbus: latency figures of the POSIX Modbus TCP server (ports/posix), the ones
 * the tests print but do not assert (tests/test_posix_modbus.sh: a loaded machine
 * moves them by hundreds of ms, so there they are bounded only to catch a blocked poll).
 *
 *   1. poll overshoot: mc_posix_modbus_poll(mb, 10) with no client, N times: how far
 *      past its 10 ms timeout each call returned (median, 99th percentile, worst);
 *   2. request round trip: one client on 127.0.0.1, FC03 of 14 registers (0030H..),
 *      request written, server polled until it answered, answer read; N times, in one
 *      thread, so the figure is the server's work plus the loopback, no scheduling.
 *
 * Usage: bench_modbus [N]   (default 2000; the overshoot part takes N x 10 ms)
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "metercore/metercore.h"
#include "metercore/posix/mc_posix_modbus.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts t[0..n) and prints median, 99th percentile and worst. */
static void report(const char *what, double *t, size_t n)
{
    qsort(t, n, sizeof(*t), cmp_double);
    printf("bench modbus: %s: median %.1f us, p99 %.1f us, worst %.1f us (%zu calls)\n", what, t[n / 2],
           t[(n * 99u) / 100u], t[n - 1u], n);
}

int main(int argc, char **argv)
{
    const size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 2000u;
    if (n < 10u) {
        fprintf(stderr, "usage: %s [N >= 10]\n", argv[0]);
        return 2;
    }
    double *t = malloc(n * sizeof(*t));
    static mc_meter_t meter;
    static mc_tariff_t tariff;
    static mc_model_t model;
    mc_meter_config_t mc;
    mc_meter_config_default(&mc);
    mc.u_scale = 400.0f / 8388608.0f;
    mc.i_scale = 100.0f / 8388608.0f;
    mc_tariff_config_t tc;
    mc_tariff_config_default(&tc);
    mc_model_config_t mdc;
    mc_model_config_default(&mdc);
    mc_posix_modbus_t mb;
    memset(&mb, 0, sizeof(mb));
    if (t == NULL || mc_meter_init(&meter, &mc) != MC_OK || mc_tariff_init(&tariff, &tc, 1000000u) != MC_OK ||
        mc_model_init(&model, &mdc, NULL, &meter, &tariff, NULL) != MC_OK ||
        mc_posix_modbus_open_tcp(&mb, &model, "127.0.0.1", 0) != MC_OK) {
        fprintf(stderr, "bench modbus: set-up failed\n");
        return 1;
    }
    printf("bench modbus: Modbus TCP server on 127.0.0.1:%d\n", mb.port);

    for (size_t k = 0; k < n; k++) {
        const double t0 = now_us();
        mc_posix_modbus_poll(&mb, 10);
        t[k] = now_us() - t0 - 10000.0;
    }
    report("poll(10 ms) overshoot, no client", t, n);

    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)mb.port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int one = 1;
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
        fprintf(stderr, "bench modbus: cannot connect\n");
        return 1;
    }
    size_t done = 0;
    for (size_t k = 0; k < n; k++) {
        const unsigned char req[12] = {(unsigned char)(k >> 8), (unsigned char)k, 0, 0, 0, 6, 1, 3, 0, 0x30, 0, 14};
        unsigned char rsp[64];
        ssize_t got = 0;
        const double t0 = now_us();
        if (write(s, req, sizeof(req)) != (ssize_t)sizeof(req)) {
            break;
        }
        while (got < 9 + 28) { /* MBAP 7 + FC + count + 14 registers */
            mc_posix_modbus_poll(&mb, 0);
            ssize_t r = recv(s, rsp + got, sizeof(rsp) - (size_t)got, MSG_DONTWAIT);
            if (r > 0) {
                got += r;
            } else if (r == 0) {
                break;
            }
        }
        t[k] = now_us() - t0;
        if (got != 9 + 28 || rsp[7] != 3) {
            fprintf(stderr, "bench modbus: bad answer to request %zu\n", k);
            return 1;
        }
        done++;
    }
    close(s);
    report("FC03 x 14 registers round trip, one client", t, done);
    mc_posix_modbus_close(&mb);
    free(t);
    return 0;
}
