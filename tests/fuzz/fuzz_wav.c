/*
 * libFuzzer target: metersim's WAV reader (ports/posix/metersim/wav.c) on
 * arbitrary bytes.
 *
 * Input: the file's bytes. ms_wav_open() takes a path, so each input is
 * written to a file of this process's own (a memfd on Linux, opened again by
 * its /proc/self/fd path; elsewhere a temporary file, removed at exit) and read
 * back through ms_wav_open() / ms_wav_read() / ms_wav_close() in chunks of
 * 1, 7, 4096 and 3000 frames in turn (a chunk size a little under and over
 * the reader's own buffer).
 *
 * Checked besides ASan/UBSan/LeakSanitizer:
 * - open returns 0 or -1; on -1 the error is one non-empty line and no FILE is
 *   held; on 0 the format is one wav.h accepts (2 channels is implied by the
 *   block alignment; 16/24/32-bit PCM or 32-bit float; 1000..64000 Hz) and
 *   frames is the declared data size in frames bounded by the file (wav.h);
 * - every sample is within [-2^23, 2^23] and equals an independent decoding of
 *   the bytes at that place of the input (16-bit * 256, 24-bit sign-extended,
 *   32-bit PCM / 256 and float * 2^23 rounded to nearest even and clipped, NaN
 *   as 0);
 * - the frames read are exactly min(declared frames, whole frames the file
 *   holds after the data chunk header), and reads after the end return 0;
 * - no file descriptor is left open (the lowest free descriptor is the same
 *   after every input).
 * Seeds: tests/fuzz/corpus/wav/, made by tests/fuzz/gen_corpus.py.
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE /* memfd_create */

#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

#include "wav.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_wav: check failed: %s (line %d)\n", #cond, __LINE__);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int g_fd = -1;           /* the file every input is written to */
static const char *g_path;      /* its path for ms_wav_open(): one of these two */
static char g_fd_path[64];      /* /proc/self/fd/N of the memfd */
static char g_tmp[4096];        /* the temporary file (removed at exit) */
static int g_lowest_free = -1;  /* lowest free descriptor when idle */

static void remove_tmp(void)
{
    if (g_tmp[0] != '\0') {
        unlink(g_tmp);
    }
}

static int lowest_free_fd(void)
{
    int fd = dup(0);
    CHECK(fd >= 0);
    close(fd);
    return fd;
}

static void setup(void)
{
    if (g_fd >= 0) {
        return;
    }
#ifdef __linux__
    g_fd = memfd_create("fuzz_wav", 0);
    if (g_fd >= 0) {
        snprintf(g_fd_path, sizeof(g_fd_path), "/proc/self/fd/%d", g_fd);
        g_path = g_fd_path;
        if (access(g_path, R_OK) != 0) {
            close(g_fd);
            g_fd = -1;
        }
    }
#endif
    if (g_fd < 0) {
        const char *dir = getenv("TMPDIR");
        snprintf(g_tmp, sizeof(g_tmp), "%s/fuzz_wav.XXXXXX", dir != NULL && dir[0] != '\0' ? dir : "/tmp");
        g_fd = mkstemp(g_tmp);
        CHECK(g_fd >= 0);
        atexit(remove_tmp);
        g_path = g_tmp;
    }
    g_lowest_free = lowest_free_fd();
}

static void put_file(const uint8_t *data, size_t size)
{
    CHECK(ftruncate(g_fd, 0) == 0);
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(g_fd, data + done, size - done, (off_t)done);
        CHECK(n > 0);
        done += (size_t)n;
    }
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* The expected code of one sample at p (independent of wav.c's decode()). */
static int32_t expect_code(const ms_wav_t *w, const uint8_t *p)
{
    if (w->bits == 16u) {
        const int32_t v = (int32_t)((uint32_t)p[0] | ((uint32_t)p[1] << 8));
        return (v >= 32768 ? v - 65536 : v) * 256;
    }
    if (w->bits == 24u) {
        const int32_t v = (int32_t)((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16));
        return v >= 8388608 ? v - 16777216 : v;
    }
    double c;
    if (w->is_float) {
        float x;
        const uint32_t u = le32(p);
        memcpy(&x, &u, sizeof(x));
        if (isnan(x)) {
            return 0;
        }
        c = (double)x * 8388608.0;
    } else {
        const uint32_t u = le32(p);
        const int64_t v = u >= 0x80000000u ? (int64_t)u - 4294967296LL : (int64_t)u;
        c = (double)v / 256.0;
    }
    if (c >= 8388608.0) {
        return 8388608;
    }
    if (c <= -8388608.0) {
        return -8388608;
    }
    /* Round half to even, as lrint() does in the default rounding mode. */
    double f = floor(c);
    const double r = c - f;
    if (r > 0.5 || (r == 0.5 && fmod(f, 2.0) != 0.0)) {
        f += 1.0;
    }
    return (int32_t)f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    put_file(data, size);

    ms_wav_t w;
    char err[512];
    memset(err, 0, sizeof(err));
    const int rc = ms_wav_open(&w, g_path, err, sizeof(err));
    CHECK(rc == 0 || rc == -1);
    if (rc != 0) {
        CHECK(w.f == NULL);
        const size_t len = strlen(err);
        CHECK(len > 0u && len < sizeof(err));
        CHECK(strchr(err, '\n') == NULL);
        CHECK(lowest_free_fd() == g_lowest_free);
        return 0;
    }
    CHECK(w.f != NULL);
    CHECK(w.sample_rate >= 1000u && w.sample_rate <= 64000u);
    CHECK(w.bits == 16u || w.bits == 24u || w.bits == 32u);
    CHECK(!w.is_float || w.bits == 32u);
    CHECK(w.block_align == 2u * (w.bits / 8u));

    /* Where the samples start in the input: the reader stands just after the data chunk header. */
    const long start = ftell(w.f);
    CHECK(start >= 20 && (size_t)start <= size);
    const uint64_t in_file = (uint64_t)(size - (size_t)start) / w.block_align;
    const uint64_t declared = w.data_left / w.block_align;
    const uint64_t want_frames = declared < in_file ? declared : in_file;
    const size_t per = w.block_align, half = per / 2u;
    /* wav.h: frames "as declared, bounded by the file". */
    CHECK(w.frames == want_frames);

    static const size_t chunks[4] = {1u, 7u, 4096u, 3000u};
    int32_t *v = malloc(4096u * sizeof(int32_t));
    int32_t *i = malloc(4096u * sizeof(int32_t));
    CHECK(v != NULL && i != NULL);
    uint64_t got_frames = 0;
    for (unsigned k = 0;; k++) {
        const size_t n = chunks[k % 4u];
        const size_t got = ms_wav_read(&w, v, i, n);
        CHECK(got <= n);
        if (got == 0u) {
            break;
        }
        for (size_t f = 0; f < got; f++) {
            const uint64_t frame = got_frames + f;
            CHECK(frame < want_frames);
            const uint8_t *p = data + (size_t)start + (size_t)frame * per;
            CHECK(v[f] >= -8388608 && v[f] <= 8388608);
            CHECK(i[f] >= -8388608 && i[f] <= 8388608);
            CHECK(v[f] == expect_code(&w, p));
            CHECK(i[f] == expect_code(&w, p + half));
        }
        got_frames += got;
    }
    CHECK(got_frames == want_frames);
    CHECK(ms_wav_read(&w, v, i, 4096u) == 0u); /* still at the end */
    free(v);
    free(i);
    ms_wav_close(&w);
    CHECK(w.f == NULL);
    ms_wav_close(&w); /* a second close is harmless */
    CHECK(lowest_free_fd() == g_lowest_free);
    return 0;
}
