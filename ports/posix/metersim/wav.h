/*
 * metersim: a streaming reader of multi-channel RIFF/WAVE files.
 * Accepted: PCM 16, 24 or 32 bit and IEEE float 32, plain or as WAVE_FORMAT_EXTENSIBLE
 * (sub-format KSDATAFORMAT_SUBTYPE_PCM or _IEEE_FLOAT), 1000..64000 Hz. ms_wav_open()
 * takes exactly 2 channels (voltage, current); ms_wav_open_any() 1..MS_WAV_MAX_CHANNELS
 * (a poly-phase recording). Unknown chunks are skipped.
 * SPDX-License-Identifier: MIT
 */
#ifndef METERSIM_WAV_H
#define METERSIM_WAV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Most channels ms_wav_open_any() takes (the meter's most: 3 voltages, 16 currents, a neutral). */
#define MS_WAV_MAX_CHANNELS 20u

typedef struct ms_wav {
    FILE *f;
    uint32_t sample_rate;
    uint16_t bits;        /* 16, 24, 32 */
    uint8_t is_float;     /* IEEE float 32 */
    uint8_t extensible;   /* the fmt chunk was WAVE_FORMAT_EXTENSIBLE */
    uint16_t channels;    /* channels per frame */
    uint16_t block_align; /* bytes per frame */
    uint64_t data_left;   /* bytes of the data chunk still to read */
    uint64_t frames;      /* frames in the data chunk (as declared, bounded by the file where its size is known: not on a pipe) */
} ms_wav_t;

/* Open and check a 2-channel file; on failure fills err (one line) and returns -1. */
int ms_wav_open(ms_wav_t *w, const char *path, char *err, size_t errlen);
/* The same for 1..MS_WAV_MAX_CHANNELS channels (w->channels says how many). */
int ms_wav_open_any(ms_wav_t *w, const char *path, char *err, size_t errlen);
/* Read up to n frames of a 2-channel file as int32 codes scaled so that full scale is 2^23
 * (code = round(x / FS * 2^23), clipped to [-2^23, 2^23]). Returns frames read (0 at the end). */
size_t ms_wav_read(ms_wav_t *w, int32_t *ch1, int32_t *ch2, size_t n);
/* Read up to n frames of any channel count, interleaved as in the file (frames holds
 * n * w->channels codes, scaled as above). Returns frames read (0 at the end). */
size_t ms_wav_read_frames(ms_wav_t *w, int32_t *frames, size_t n);
void ms_wav_close(ms_wav_t *w);

#endif
