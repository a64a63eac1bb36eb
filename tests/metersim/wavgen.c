/*
 * wavgen: writes a 2-channel WAV of a known load for the metersim replay test.
 *
 *   wavgen OUT.wav FORMAT RATE SECONDS U I PHI_DEG FREQ V_FS I_FS
 *
 * FORMAT: pcm16, pcm24, pcm32 or float. Channel 1 is the voltage
 * sqrt(2)·U·sin(θ), channel 2 the current sqrt(2)·I·sin(θ - PHI) (PHI > 0:
 * the current lags, inductive), θ = 2π·FREQ·t; full scale stands for V_FS
 * volts and I_FS amps. A LIST chunk is written before fmt and another unknown
 * chunk between fmt and data, so that the reader must skip them.
 * Truth: P = U·I·cos(PHI), Q = U·I·sin(PHI).
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put16(FILE *f, unsigned v)
{
    fputc((int)(v & 0xFF), f);
    fputc((int)((v >> 8) & 0xFF), f);
}

static void put32(FILE *f, uint32_t v)
{
    put16(f, v & 0xFFFF);
    put16(f, v >> 16);
}

static void sample(FILE *f, int bits, int is_float, double x)
{
    if (is_float) {
        float y = (float)x;
        uint32_t u;
        memcpy(&u, &y, 4);
        put32(f, u);
        return;
    }
    double m = ldexp(1.0, bits - 1);
    double c = floor(x * m + 0.5);
    if (c > m - 1) {
        c = m - 1;
    }
    if (c < -m) {
        c = -m;
    }
    int64_t k = (int64_t)c;
    for (int b = 0; b < bits / 8; b++) {
        fputc((int)((uint64_t)k >> (8 * b)) & 0xFF, f);
    }
}

int main(int argc, char **argv)
{
    if (argc != 11) {
        fprintf(stderr, "usage: wavgen OUT.wav pcm16|pcm24|pcm32|float RATE SECONDS U I PHI_DEG FREQ V_FS I_FS\n");
        return 2;
    }
    int bits = 0, is_float = 0;
    if (strcmp(argv[2], "pcm16") == 0) {
        bits = 16;
    } else if (strcmp(argv[2], "pcm24") == 0) {
        bits = 24;
    } else if (strcmp(argv[2], "pcm32") == 0) {
        bits = 32;
    } else if (strcmp(argv[2], "float") == 0) {
        bits = 32;
        is_float = 1;
    } else {
        fprintf(stderr, "wavgen: bad format %s\n", argv[2]);
        return 2;
    }
    const unsigned rate = (unsigned)atoi(argv[3]);
    const double secs = atof(argv[4]), u = atof(argv[5]), i = atof(argv[6]);
    const double phi = atof(argv[7]) * M_PI / 180.0, freq = atof(argv[8]);
    const double vfs = atof(argv[9]), ifs = atof(argv[10]);
    const uint32_t frames = (uint32_t)(secs * rate + 0.5);
    const unsigned block = 2u * (unsigned)bits / 8u;
    FILE *f = fopen(argv[1], "wb");
    if (f == NULL) {
        perror(argv[1]);
        return 1;
    }
    const char list[] = "INFOmetersim"; /* 12 bytes */
    const uint32_t odd = 3;               /* an odd-sized unknown chunk, padded */
    const uint32_t data = frames * block;
    fwrite("RIFF", 1, 4, f);
    put32(f, 4 + (8 + 12) + (8 + 16) + (8 + odd + 1) + (8 + data));
    fwrite("WAVE", 1, 4, f);
    fwrite("LIST", 1, 4, f);
    put32(f, 12);
    fwrite(list, 1, 12, f);
    fwrite("fmt ", 1, 4, f);
    put32(f, 16);
    put16(f, is_float ? 3 : 1);
    put16(f, 2);
    put32(f, rate);
    put32(f, rate * block);
    put16(f, block);
    put16(f, (unsigned)bits);
    fwrite("junk", 1, 4, f);
    put32(f, odd);
    fwrite("abc\0", 1, 4, f);
    fwrite("data", 1, 4, f);
    put32(f, data);
    for (uint32_t k = 0; k < frames; k++) {
        const double th = 2.0 * M_PI * freq * (double)k / rate;
        sample(f, bits, is_float, sqrt(2.0) * u * sin(th) / vfs);
        sample(f, bits, is_float, sqrt(2.0) * i * sin(th - phi) / ifs);
    }
    if (fclose(f) != 0) {
        perror(argv[1]);
        return 1;
    }
    return 0;
}
