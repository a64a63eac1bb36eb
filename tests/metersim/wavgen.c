/*
 * wavgen: writes a WAV of a known load for the metersim replay test.
 *
 *   wavgen OUT.wav FORMAT RATE SECONDS U I PHI_DEG FREQ V_FS I_FS
 *   wavgen OUT.wav FORMAT RATE SECONDS --wiring W U I PHI_DEG FREQ V_FS I_FS [options]
 *
 * FORMAT: pcm16, pcm24, pcm32 or float. The first form writes 2 channels: channel 1 is
 * the voltage sqrt(2)·U·sin(θ), channel 2 the current sqrt(2)·I·sin(θ - PHI) (PHI > 0:
 * the current lags, inductive), θ = 2π·FREQ·t; full scale stands for V_FS volts and I_FS
 * amps. A LIST chunk is written before fmt and another unknown chunk between fmt and
 * data, so that the reader must skip them. Truth: P = U·I·cos(PHI), Q = U·I·sin(PHI).
 *
 * The second form writes the channels of a wiring in metersim replay's order (1p2w U I;
 * 1p3w U1 U2 I1 I2; 3p4w U1 U2 U3 I1 I2 I3 [IN]; 3p3w U12 U32 I1 I3; multi:N U1 [U2 U3]
 * I1..IN), every channel a sinusoid: by default a balanced system, each phase voltage U
 * (rms, to neutral) and each element's current I lagging its own voltage by PHI:
 *   3p4w, multi with 3 voltages: phase k at 0, -120, +120 degrees (ABC);
 *   1p3w: U1 at 0, U2 at 180 degrees (split phase);
 *   3p3w: U12 = U1 - U2 and U32 = U3 - U2 of that wye, I1 and I3 its phase currents
 *         (I2 = -(I1 + I3) flows in the third wire, unrecorded);
 *   multi:N: circuit k (0-based) on voltage k mod 3 (one voltage: all on U1).
 * Options:
 *   --acb            reverse sequence: phases 2 and 3 at +120 and -120 degrees
 *   --neutral        3p4w: a 7th channel IN = -(I1 + I2 + I3) (the sign of a return current)
 *   --in-gain G      3p4w: IN written G times that (a faulty neutral CT); implies --neutral
 *   --voltages 3     multi: three voltage channels U1 U2 U3 (default 1)
 *   --u K:U[:DEG]    voltage of phase (leg, voltage channel) K, 1-based: rms U, and its angle
 *                    in degrees if given (default: as above); U 0 is a missing phase
 *   --i K:I:PHI      current of element K (3p3w: of phase K of the wye load, 1..3): rms I
 *                    lagging its own voltage by PHI degrees (180: an exporting phase)
 *   --extensible     a WAVE_FORMAT_EXTENSIBLE fmt chunk (sub-format PCM or IEEE float)
 *   --truth          print the truth as one JSON object on stdout, analytic from the
 *                    phasors (never from metersim): per element urms, irms, p, q, s, pf,
 *                    u_angle_deg, i_angle_deg (relative to the first voltage channel,
 *                    positive leading), the totals p, q, s (arithmetic), s_vector, u12,
 *                    u23, u31, sequence, u_unbalance_pct and i_unbalance_pct (negative over
 *                    positive sequence against the voltages' rotation, or the inverse),
 *                    i_neutral_calc (|I1 + I2 + I3|; 1p3w |I1 + I2|), i_neutral (measured
 *                    IN), seconds, channels
 * SPDX-License-Identifier: MIT
 */
#include <complex.h>
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

static int poly_main(int argc, char **argv, int bits, int is_float);

int main(int argc, char **argv)
{
    if (argc >= 6 && strcmp(argv[5], "--wiring") == 0) {
        int pbits = 0, pfloat = 0;
        if (strcmp(argv[2], "pcm16") == 0) {
            pbits = 16;
        } else if (strcmp(argv[2], "pcm24") == 0) {
            pbits = 24;
        } else if (strcmp(argv[2], "pcm32") == 0) {
            pbits = 32;
        } else if (strcmp(argv[2], "float") == 0) {
            pbits = 32;
            pfloat = 1;
        } else {
            fprintf(stderr, "wavgen: bad format %s\n", argv[2]);
            return 2;
        }
        return poly_main(argc, argv, pbits, pfloat);
    }
    if (argc != 11) {
        fprintf(stderr, "usage: wavgen OUT.wav pcm16|pcm24|pcm32|float RATE SECONDS U I PHI_DEG FREQ V_FS I_FS\n"
                        "       wavgen OUT.wav FORMAT RATE SECONDS --wiring 1p2w|1p3w|3p4w|3p3w|multi:N U I PHI_DEG\n"
                        "              FREQ V_FS I_FS [--acb] [--neutral] [--in-gain G] [--voltages 3]\n"
                        "              [--u K:U[:DEG]]... [--i K:I:PHI]... [--extensible] [--truth]\n");
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

/* ---- the poly-phase form -------------------------------------------------------------------- */

typedef double complex cplx;

static cplx polar_deg(double mag, double deg)
{
    return mag * cexp(I * deg * M_PI / 180.0);
}

static double arg_deg(cplx z)
{
    double a = carg(z) * 180.0 / M_PI;
    if (a <= -180.0) {
        a += 360.0;
    }
    return a;
}

/* Angle difference wrapped to (-180, 180]. */
static double wrap_deg(double a)
{
    while (a > 180.0) {
        a -= 360.0;
    }
    while (a <= -180.0) {
        a += 360.0;
    }
    return a;
}

/* Negative over positive sequence (or the inverse for ACB), percent. */
static double unbalance_pct(cplx a, cplx b, cplx c, int acb)
{
    const cplx al = polar_deg(1.0, 120.0);
    const cplx pos = (a + al * b + al * al * c) / 3.0;
    const cplx neg = (a + al * al * b + al * c) / 3.0;
    const double p = cabs(pos), n = cabs(neg);
    if (acb) {
        return n > 0.0 ? 100.0 * p / n : 0.0;
    }
    return p > 0.0 ? 100.0 * n / p : 0.0;
}

static void json_elem(int first, cplx v, cplx i, cplx ref)
{
    const cplx s = v * conj(i);
    const double sa = cabs(v) * cabs(i);
    printf("%s{\"urms\":%.9g,\"irms\":%.9g,\"p\":%.9g,\"q\":%.9g,\"s\":%.9g,\"pf\":%.9g,\"u_angle_deg\":%.9g,"
           "\"i_angle_deg\":%.9g}",
           first ? "" : ",", cabs(v), cabs(i), creal(s), cimag(s), sa, sa > 0.0 ? creal(s) / sa : 1.0,
           cabs(v) > 0.0 ? wrap_deg(arg_deg(v) - arg_deg(ref)) : 0.0,
           cabs(i) > 0.0 ? wrap_deg(arg_deg(i) - arg_deg(ref)) : 0.0);
}

static int poly_main(int argc, char **argv, int bits, int is_float)
{
    if (argc < 13) {
        fprintf(stderr, "wavgen: --wiring W U I PHI_DEG FREQ V_FS I_FS expected\n");
        return 2;
    }
    const char *wiring = argv[6];
    const unsigned rate = (unsigned)atoi(argv[3]);
    const double secs = atof(argv[4]);
    const double u = atof(argv[7]), i = atof(argv[8]), phi = atof(argv[9]), freq = atof(argv[10]);
    const double vfs = atof(argv[11]), ifs = atof(argv[12]);
    enum { W1P2W, W1P3W, W3P4W, W3P3W, WMULTI } wk;
    unsigned circuits = 1;
    if (strcmp(wiring, "1p2w") == 0) {
        wk = W1P2W;
    } else if (strcmp(wiring, "1p3w") == 0) {
        wk = W1P3W;
        circuits = 2;
    } else if (strcmp(wiring, "3p4w") == 0) {
        wk = W3P4W;
        circuits = 3;
    } else if (strcmp(wiring, "3p3w") == 0) {
        wk = W3P3W;
        circuits = 3; /* the wye load's three phase currents; I1 and I3 are written */
    } else if (strncmp(wiring, "multi:", 6) == 0 && atoi(wiring + 6) >= 1 && atoi(wiring + 6) <= 16) {
        wk = WMULTI;
        circuits = (unsigned)atoi(wiring + 6);
    } else {
        fprintf(stderr, "wavgen: bad wiring %s\n", wiring);
        return 2;
    }
    int acb = 0, neutral = 0, extensible = 0, truth = 0;
    unsigned voltages = wk == W1P3W || wk == W3P3W ? 2u : (wk == W3P4W ? 3u : 1u);
    double in_gain = 1.0;
    double umag[3] = { u, u, u }, uang[3];
    int uang_set[3] = { 0, 0, 0 };
    double imag[16], ilag[16];
    for (unsigned k = 0; k < 16; k++) {
        imag[k] = i;
        ilag[k] = phi;
    }
    for (int a = 13; a < argc; a++) {
        if (strcmp(argv[a], "--acb") == 0) {
            acb = 1;
        } else if (strcmp(argv[a], "--neutral") == 0) {
            neutral = 1;
        } else if (strcmp(argv[a], "--in-gain") == 0 && a + 1 < argc) {
            neutral = 1;
            in_gain = atof(argv[++a]);
        } else if (strcmp(argv[a], "--voltages") == 0 && a + 1 < argc) {
            voltages = (unsigned)atoi(argv[++a]);
        } else if (strcmp(argv[a], "--extensible") == 0) {
            extensible = 1;
        } else if (strcmp(argv[a], "--truth") == 0) {
            truth = 1;
        } else if (strcmp(argv[a], "--u") == 0 && a + 1 < argc) {
            unsigned k;
            double m, d;
            const int got = sscanf(argv[++a], "%u:%lf:%lf", &k, &m, &d);
            if (got < 2 || k < 1 || k > 3) {
                fprintf(stderr, "wavgen: bad --u %s (K:U[:DEG])\n", argv[a]);
                return 2;
            }
            umag[k - 1] = m;
            if (got == 3) {
                uang[k - 1] = d;
                uang_set[k - 1] = 1;
            }
        } else if (strcmp(argv[a], "--i") == 0 && a + 1 < argc) {
            unsigned k;
            double m, d;
            if (sscanf(argv[++a], "%u:%lf:%lf", &k, &m, &d) != 3 || k < 1 || k > 16) {
                fprintf(stderr, "wavgen: bad --i %s (K:I:PHI)\n", argv[a]);
                return 2;
            }
            imag[k - 1] = m;
            ilag[k - 1] = d;
        } else {
            fprintf(stderr, "wavgen: bad option %s\n", argv[a]);
            return 2;
        }
    }
    if (wk == WMULTI && voltages != 1 && voltages != 3) {
        fprintf(stderr, "wavgen: --voltages 1 or 3\n");
        return 2;
    }
    if (neutral && wk != W3P4W) {
        fprintf(stderr, "wavgen: --neutral is for 3p4w\n");
        return 2;
    }
    /* the source: phase (leg) voltages as phasors */
    cplx vph[3];
    for (unsigned k = 0; k < 3; k++) {
        double deg;
        if (wk == W1P3W) {
            deg = k == 0 ? 0.0 : 180.0;
        } else {
            static const double abc[3] = { 0.0, -120.0, 120.0 };
            deg = acb ? -abc[k] : abc[k];
        }
        vph[k] = polar_deg(umag[k], uang_set[k] ? uang[k] : deg);
    }
    /* the channels (phasors) in frame order, and the elements (voltage, current) */
    cplx ch[20];
    unsigned nch = 0, nel = 0;
    cplx ev[16], ei[16];
    cplx iph[16];
    for (unsigned k = 0; k < circuits; k++) {
        const unsigned vk = wk == WMULTI ? (voltages == 3 ? k % 3u : 0u) : (wk == W1P2W ? 0u : k);
        iph[k] = imag[k] * cexp(I * (carg(vph[vk]) - ilag[k] * M_PI / 180.0));
    }
    switch (wk) {
    case W1P2W:
        ch[nch++] = vph[0];
        ch[nch++] = iph[0];
        ev[nel] = vph[0];
        ei[nel++] = iph[0];
        break;
    case W1P3W:
        ch[nch++] = vph[0];
        ch[nch++] = vph[1];
        ch[nch++] = iph[0];
        ch[nch++] = iph[1];
        for (unsigned k = 0; k < 2; k++) {
            ev[nel] = vph[k];
            ei[nel++] = iph[k];
        }
        break;
    case W3P4W:
        for (unsigned k = 0; k < 3; k++) {
            ch[nch++] = vph[k];
        }
        for (unsigned k = 0; k < 3; k++) {
            ch[nch++] = iph[k];
            ev[nel] = vph[k];
            ei[nel++] = iph[k];
        }
        if (neutral) {
            ch[nch++] = -in_gain * (iph[0] + iph[1] + iph[2]);
        }
        break;
    case W3P3W:
        ch[nch++] = vph[0] - vph[1];
        ch[nch++] = vph[2] - vph[1];
        ch[nch++] = iph[0];
        ch[nch++] = iph[2];
        ev[nel] = ch[0];
        ei[nel++] = iph[0];
        ev[nel] = ch[1];
        ei[nel++] = iph[2];
        break;
    case WMULTI:
        for (unsigned k = 0; k < voltages; k++) {
            ch[nch++] = vph[k];
        }
        for (unsigned k = 0; k < circuits; k++) {
            ch[nch++] = iph[k];
            ev[nel] = vph[voltages == 3 ? k % 3u : 0u];
            ei[nel++] = iph[k];
        }
        break;
    }
    const unsigned nu = wk == W1P2W ? 1u : (wk == W1P3W || wk == W3P3W ? 2u : voltages);

    const uint32_t frames = (uint32_t)(secs * rate + 0.5);
    const unsigned width = (unsigned)bits / 8u, block = nch * width;
    FILE *f = fopen(argv[1], "wb");
    if (f == NULL) {
        perror(argv[1]);
        return 1;
    }
    const char list[] = "INFOmetersim";
    const uint32_t odd = 3;
    const uint32_t data = frames * block;
    const uint32_t fmt_size = extensible ? 40u : 16u;
    fwrite("RIFF", 1, 4, f);
    put32(f, 4 + (8 + 12) + (8 + fmt_size) + (8 + odd + 1) + (8 + data));
    fwrite("WAVE", 1, 4, f);
    fwrite("LIST", 1, 4, f);
    put32(f, 12);
    fwrite(list, 1, 12, f);
    fwrite("fmt ", 1, 4, f);
    put32(f, fmt_size);
    put16(f, extensible ? 0xFFFEu : (is_float ? 3u : 1u));
    put16(f, nch);
    put32(f, rate);
    put32(f, rate * block);
    put16(f, block);
    put16(f, (unsigned)bits);
    if (extensible) {
        static const uint8_t tail[14] = { 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                          0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71 };
        put16(f, 22);            /* cbSize */
        put16(f, (unsigned)bits); /* valid bits */
        put32(f, 0);             /* channel mask: none (not loudspeakers) */
        put16(f, is_float ? 3u : 1u);
        fwrite(tail, 1, sizeof(tail), f);
    }
    fwrite("junk", 1, 4, f);
    put32(f, odd);
    fwrite("abc\0", 1, 4, f);
    fwrite("data", 1, 4, f);
    put32(f, data);
    for (uint32_t k = 0; k < frames; k++) {
        const double th = 2.0 * M_PI * freq * (double)k / rate;
        for (unsigned c = 0; c < nch; c++) {
            const double x = sqrt(2.0) * cabs(ch[c]) * sin(th + carg(ch[c]));
            sample(f, bits, is_float, x / (c < nu ? vfs : ifs));
        }
    }
    if (fclose(f) != 0) {
        perror(argv[1]);
        return 1;
    }
    if (!truth) {
        return 0;
    }
    /* the truth, from the phasors */
    const cplx ref = ch[0];
    printf("{\"channels\":%u,\"seconds\":%.9g,\"elements\":[", nch, (double)frames / rate);
    double p = 0.0, q = 0.0, sa = 0.0;
    for (unsigned k = 0; k < nel; k++) {
        json_elem(k == 0, ev[k], ei[k], ref);
        const cplx s = ev[k] * conj(ei[k]);
        p += creal(s);
        q += cimag(s);
        sa += cabs(ev[k]) * cabs(ei[k]);
    }
    printf("],\"p\":%.9g,\"q\":%.9g,\"s\":%.9g,\"s_vector\":%.9g", p, q, sa, hypot(p, q));
    double ll[3] = { 0, 0, 0 };
    int three = 0;
    cplx ia = 0, ib = 0, ic = 0;
    if (wk == W3P4W || (wk == WMULTI && voltages == 3)) {
        ll[0] = cabs(vph[0] - vph[1]);
        ll[1] = cabs(vph[1] - vph[2]);
        ll[2] = cabs(vph[2] - vph[0]);
        three = 1;
        ia = iph[0];
        ib = iph[1];
        ic = iph[2 % circuits];
    } else if (wk == W3P3W) {
        ll[0] = cabs(ch[0]);
        ll[1] = cabs(ch[1]);
        ll[2] = cabs(ch[1] - ch[0]);
        three = 1;
        ia = iph[0];
        ic = iph[2];
        ib = -(ia + ic);
    } else if (wk == W1P3W) {
        ll[0] = cabs(vph[0] - vph[1]);
    }
    printf(",\"u12\":%.9g,\"u23\":%.9g,\"u31\":%.9g", ll[0], ll[1], ll[2]);
    if (three) {
        /* the rotation present: which sequence dominates the voltages */
        const cplx al = polar_deg(1.0, 120.0);
        const cplx pos = vph[0] + al * vph[1] + al * al * vph[2];
        const cplx neg = vph[0] + al * al * vph[1] + al * vph[2];
        const int rev = cabs(neg) > cabs(pos);
        printf(",\"sequence\":\"%s\",\"u_unbalance_pct\":%.9g,\"i_unbalance_pct\":%.9g", rev ? "ACB" : "ABC",
               unbalance_pct(vph[0], vph[1], vph[2], rev), unbalance_pct(ia, ib, ic, rev));
    } else {
        printf(",\"sequence\":null");
    }
    if (wk == W3P4W) {
        const cplx sum = iph[0] + iph[1] + iph[2];
        printf(",\"i_neutral_calc\":%.9g,\"i_neutral\":%.9g,\"i_residual\":%.9g", cabs(sum),
               neutral ? cabs(in_gain * sum) : cabs(sum), neutral ? cabs(sum - in_gain * sum) : 0.0);
    } else if (wk == W1P3W) {
        printf(",\"i_neutral_calc\":%.9g,\"i_neutral\":%.9g", cabs(iph[0] + iph[1]), cabs(iph[0] + iph[1]));
    }
    printf("}\n");
    return 0;
}
