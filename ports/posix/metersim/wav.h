/*
 * metersim: a streaming reader of 2-channel RIFF/WAVE files.
 * Accepted: PCM 16, 24 or 32 bit and IEEE float 32 (also as WAVE_FORMAT_EXTENSIBLE),
 * exactly 2 channels, 1000..64000 Hz. Unknown chunks are skipped.
 * SPDX-License-Identifier: MIT
 */
#ifndef METERSIM_WAV_H
#define METERSIM_WAV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct ms_wav {
    FILE *f;
    uint32_t sample_rate;
    uint16_t bits;        /* 16, 24, 32 */
    uint8_t is_float;     /* IEEE float 32 */
    uint16_t block_align; /* bytes per frame */
    uint64_t data_left;   /* bytes of the data chunk still to read */
    uint64_t frames;      /* frames in the data chunk (as declared, bounded by the file where its size is known: not on a pipe) */
} ms_wav_t;

/* Open and check; on failure fills err (one line) and returns -1. */
int ms_wav_open(ms_wav_t *w, const char *path, char *err, size_t errlen);
/* Read up to n frames as int32 codes scaled so that full scale is 2^23
 * (code = round(x / FS * 2^23), clipped to [-2^23, 2^23]). Returns frames read (0 at the end). */
size_t ms_wav_read(ms_wav_t *w, int32_t *ch1, int32_t *ch2, size_t n);
void ms_wav_close(ms_wav_t *w);

#endif
