/*
 * metersim: streaming RIFF/WAVE reader of 1..20 channels (see wav.h).
 * SPDX-License-Identifier: MIT
 */
#include "wav.h"

#include <errno.h>
#include <math.h>
#include <string.h>

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static int fail(ms_wav_t *w, char *err, size_t errlen, const char *path, const char *what)
{
    snprintf(err, errlen, "%s: %s", path, what);
    if (w->f != NULL) {
        fclose(w->f);
        w->f = NULL;
    }
    return -1;
}

/* Skip n bytes forward (works on pipes too). */
static int skip(FILE *f, uint64_t n)
{
    uint8_t buf[4096];
    while (n > 0) {
        size_t k = n > sizeof(buf) ? sizeof(buf) : (size_t)n;
        if (fread(buf, 1, k, f) != k) {
            return -1;
        }
        n -= k;
    }
    return 0;
}

/* KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT: {000000tt-0000-0010-8000-00aa00389b71}, after the tag. */
static const uint8_t guid_tail[14] = { 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                       0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71 };

/* Open with 2 channels exactly (two_only) or 1..MS_WAV_MAX_CHANNELS. */
static int wav_open(ms_wav_t *w, const char *path, int two_only, char *err, size_t errlen)
{
    memset(w, 0, sizeof(*w));
    w->f = fopen(path, "rb");
    if (w->f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    uint8_t hdr[12];
    if (fread(hdr, 1, 12, w->f) != 12 || memcmp(hdr, "RIFF", 4) != 0 || memcmp(hdr + 8, "WAVE", 4) != 0) {
        return fail(w, err, errlen, path, "not a WAV file (no RIFF/WAVE header)");
    }
    int have_fmt = 0;
    for (;;) {
        uint8_t ch[8];
        if (fread(ch, 1, 8, w->f) != 8) {
            return fail(w, err, errlen, path, have_fmt ? "no data chunk" : "no fmt chunk");
        }
        uint32_t size = le32(ch + 4);
        if (memcmp(ch, "fmt ", 4) == 0) {
            uint8_t fmt[40];
            if (size < 16 || size > 1024) {
                return fail(w, err, errlen, path, "bad fmt chunk size");
            }
            size_t take = size < sizeof(fmt) ? size : sizeof(fmt);
            memset(fmt, 0, sizeof(fmt));
            if (fread(fmt, 1, take, w->f) != take || skip(w->f, (uint64_t)(size - take) + (size & 1u)) != 0) {
                return fail(w, err, errlen, path, "truncated fmt chunk");
            }
            uint16_t tag = le16(fmt);
            uint16_t channels = le16(fmt + 2);
            w->sample_rate = le32(fmt + 4);
            w->block_align = le16(fmt + 12);
            w->bits = le16(fmt + 14);
            if (tag == 0xFFFEu) { /* WAVE_FORMAT_EXTENSIBLE: the sub-format GUID's first word */
                if (size < 40) {
                    return fail(w, err, errlen, path, "truncated extensible fmt chunk");
                }
                tag = le16(fmt + 24);
                if (memcmp(fmt + 26, guid_tail, sizeof(guid_tail)) != 0) {
                    return fail(w, err, errlen, path,
                                "unsupported WAVE_FORMAT_EXTENSIBLE sub-format (PCM or IEEE float only)");
                }
                w->extensible = 1;
            }
            if (tag == 1) {
                if (w->bits != 16 && w->bits != 24 && w->bits != 32) {
                    snprintf(err, errlen, "%s: unsupported PCM sample size %u bit (16, 24 or 32)", path,
                             (unsigned)w->bits);
                    fclose(w->f);
                    w->f = NULL;
                    return -1;
                }
                w->is_float = 0;
            } else if (tag == 3) {
                if (w->bits != 32) {
                    return fail(w, err, errlen, path, "unsupported float sample size (32-bit float only)");
                }
                w->is_float = 1;
            } else {
                snprintf(err, errlen, "%s: unsupported WAV encoding 0x%04x (PCM or IEEE float only)", path,
                         (unsigned)tag);
                fclose(w->f);
                w->f = NULL;
                return -1;
            }
            if (two_only && channels != 2) {
                snprintf(err, errlen, "%s: %u channels (2 needed: voltage, current)", path, (unsigned)channels);
                fclose(w->f);
                w->f = NULL;
                return -1;
            }
            if (channels < 1 || channels > MS_WAV_MAX_CHANNELS) {
                snprintf(err, errlen, "%s: %u channels (1..%u)", path, (unsigned)channels, MS_WAV_MAX_CHANNELS);
                fclose(w->f);
                w->f = NULL;
                return -1;
            }
            if (w->sample_rate < 1000 || w->sample_rate > 64000) {
                snprintf(err, errlen, "%s: sample rate %lu Hz outside 1000..64000", path,
                         (unsigned long)w->sample_rate);
                fclose(w->f);
                w->f = NULL;
                return -1;
            }
            w->channels = channels;
            if (w->block_align != (unsigned)channels * (w->bits / 8u)) {
                return fail(w, err, errlen, path, "inconsistent block alignment");
            }
            have_fmt = 1;
        } else if (memcmp(ch, "data", 4) == 0) {
            if (!have_fmt) {
                return fail(w, err, errlen, path, "data chunk before fmt chunk");
            }
            w->data_left = size;
            w->frames = size / w->block_align;
            /* Bounded by the file where its size is known (not on a pipe): a data
             * chunk may declare more than was written (a recorder cut short). */
            long here = ftell(w->f);
            if (here >= 0 && fseek(w->f, 0, SEEK_END) == 0) {
                long end = ftell(w->f);
                if (fseek(w->f, here, SEEK_SET) != 0) {
                    return fail(w, err, errlen, path, "cannot seek back to the data chunk");
                }
                if (end >= here && (uint64_t)(end - here) / w->block_align < w->frames) {
                    w->frames = (uint64_t)(end - here) / w->block_align;
                }
            }
            clearerr(w->f);
            return 0;
        } else if (skip(w->f, (uint64_t)size + (size & 1u)) != 0) {
            return fail(w, err, errlen, path, "truncated chunk");
        }
    }
}

int ms_wav_open(ms_wav_t *w, const char *path, char *err, size_t errlen)
{
    return wav_open(w, path, 1, err, errlen);
}

int ms_wav_open_any(ms_wav_t *w, const char *path, char *err, size_t errlen)
{
    return wav_open(w, path, 0, err, errlen);
}

static int32_t clip_code(double c)
{
    if (c > 8388608.0) {
        return 8388608;
    }
    if (c < -8388608.0) {
        return -8388608;
    }
    return (int32_t)lrint(c);
}

static int32_t decode(const ms_wav_t *w, const uint8_t *p)
{
    switch (w->bits) {
    case 16:
        return (int32_t)(int16_t)le16(p) * 256;
    case 24: {
        int32_t v = (int32_t)((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16));
        if (v & 0x800000) {
            v -= 0x1000000;
        }
        return v;
    }
    default:
        if (w->is_float) {
            float x;
            uint32_t u = le32(p);
            memcpy(&x, &u, 4);
            if (x != x) {
                return 0;
            }
            return clip_code((double)x * 8388608.0);
        }
        return clip_code((double)(int32_t)le32(p) / 256.0);
    }
}

size_t ms_wav_read(ms_wav_t *w, int32_t *ch1, int32_t *ch2, size_t n)
{
    /* Two channels (ms_wav_open() accepts no other count): frames split into the two arrays. */
    int32_t pairs[2 * 512];
    size_t done = 0;
    while (done < n) {
        const size_t want = n - done < 512u ? n - done : 512u;
        const size_t got = ms_wav_read_frames(w, pairs, want);
        for (size_t k = 0; k < got; k++) {
            ch1[done + k] = pairs[2u * k];
            ch2[done + k] = pairs[2u * k + 1u];
        }
        done += got;
        if (got < want) {
            break;
        }
    }
    return done;
}

size_t ms_wav_read_frames(ms_wav_t *w, int32_t *frames, size_t n)
{
    uint8_t buf[8 * 1024];
    const size_t per = w->block_align, nch = w->channels, width = w->bits / 8u;
    size_t done = 0;
    while (done < n && w->f != NULL && per > 0 && w->data_left >= per) {
        size_t want = n - done;
        if (want > sizeof(buf) / per) {
            want = sizeof(buf) / per;
        }
        if (want > w->data_left / per) {
            want = (size_t)(w->data_left / per);
        }
        size_t got = fread(buf, per, want, w->f);
        for (size_t k = 0; k < got; k++) {
            for (size_t c = 0; c < nch; c++) {
                frames[(done + k) * nch + c] = decode(w, buf + k * per + c * width);
            }
        }
        done += got;
        w->data_left -= (uint64_t)got * per;
        if (got < want) { /* the file ends before the declared data size */
            w->data_left = 0;
        }
    }
    return done;
}

void ms_wav_close(ms_wav_t *w)
{
    if (w->f != NULL) {
        fclose(w->f);
        w->f = NULL;
    }
}
