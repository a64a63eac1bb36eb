/*
 * kernel_dump: every reading of the core, as hex floats, over streams that exercise the
 * per-sample kernel: 1P2W through mc_meter_process() (harmonics, DC, noise, a frequency
 * ramp, calibration, dips, an interruption, steps, odd and single-sample blocks, flushes)
 * and every wiring through mc_meter_process_frames() (both sequences, harmonics, a voltage
 * lost and a dip, shared voltages), and the raw integer sums over full-scale codes after
 * every block (run_sums()). tests/CMakeLists.txt builds it once per accumulation form of
 * src/core/mc_meter_kernel.c (MC_KERNEL_FUSED, MC_KERNEL_F64X2, MC_KERNEL_SPLIT16) and the
 * test kernel_equivalence requires the outputs to be identical: the forms compute the same
 * integer sums, so any difference is a bug in one of them.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "metercore/mc_meter.h"
#include "polywave.h"
#include "waveform.h"

static mc_meter_t meter;
static mc_meter_channel_t channels[MC_MAX_CHANNELS];
static mc_meter_pair_t pairs[MC_MAX_PAIRS];
static mc_meter_element_t elements[MC_MAX_CIRCUITS];
static size_t n_elements; /* of the meter under way */

static void print_reading(const char *tag, const mc_reading_t *r)
{
    printf("%s %a %a %a %a %a %a %a %a %llu %u %u %u %u", tag, (double)r->urms, (double)r->irms, (double)r->p,
           (double)r->q, (double)r->s, (double)r->pf, (double)r->freq, (double)r->duration_s,
           (unsigned long long)r->start_sample, r->samples, r->cycles, r->quadrant, r->flags);
    for (int k = 0; k < MC_E_COUNT; k++) {
        printf(" %llu", (unsigned long long)r->delta.q[k]);
    }
    printf("\n");
}

static void on_pulse(void *context, const mc_pulse_t *p)
{
    (void)context;
    printf("pulse %llu %u\n", (unsigned long long)p->start_q16, p->width_q16);
}

static void on_window(void *context, const mc_reading_t *r)
{
    (void)context;
    print_reading("win", r);
    mc_poly_reading_t p;
    if (n_elements > 1u && mc_meter_poly_reading(&meter, &p) == MC_OK) {
        printf("poly %a %a %a %a %a %a %a %a %a %u %u %u %u\n", (double)p.s_vector, (double)p.u_ll[0],
               (double)p.u_ll[1], (double)p.u_ll[2], (double)p.u_unbalance_pct, (double)p.i_unbalance_pct,
               (double)p.i_neutral, (double)p.i_neutral_calc, (double)p.i_residual, p.sequence, p.missing,
               p.reference, p.flags);
        for (unsigned e = 0; e < n_elements; e++) {
            mc_phase_reading_t ph;
            if (mc_meter_phase_reading(&meter, e, &ph) == MC_OK) {
                printf(" ph%u %a %a %a %a %a %a %a %a\n", e, (double)ph.urms, (double)ph.irms, (double)ph.p,
                       (double)ph.q, (double)ph.s, (double)ph.pf, (double)ph.u_angle_deg, (double)ph.i_angle_deg);
            }
        }
    }
}

static void after_block(int events)
{
    if (events & MC_EVENT_CYCLE) {
        mc_cycle_reading_t c;
        mc_meter_cycle_reading(&meter, &c);
        printf("cyc %a %a %a %a %u\n", (double)c.urms, (double)c.irms, (double)c.p, (double)c.freq, c.samples);
    }
}

static void print_energy(void)
{
    printf("flush %d\n", mc_meter_flush(&meter));
    mc_energy_t e;
    mc_meter_energy(&meter, &e);
    for (int q = 0; q < MC_E_COUNT; q++) {
        printf("E %llu\n", (unsigned long long)e.q[q]);
    }
}

/* Block lengths: fixed, or pseudo-random 0..299 (blk 0). */
static size_t next_block(size_t blk, unsigned *rnd)
{
    if (blk != 0u) {
        return blk;
    }
    *rnd = *rnd * 1103515245u + 12345u;
    return (*rnd >> 16) % 300u;
}

static void run_single(int scen, size_t blk)
{
    wf_params_t p;
    double f = 50.0, u = 230, i = 5, phi = 30;
    if (scen % 4 == 1) {
        f = 60.0;
        i = 0.01;
        phi = -60;
    } else if (scen % 4 == 2) {
        i = 60;
        phi = 170;
    } else if (scen % 4 == 3) {
        i = 0.0;
    }
    wf_params_sine(&p, 4000, f, u, i, phi, 400, 100, 24);
    if (scen >= 4) {
        p.u.rms[3] = 20;
        p.i.rms[3] = 1.5;
        p.i.rms[5] = 0.7;
        p.u.dc = 3;
        p.i.dc = 0.2;
        p.u.noise_rms = 0.3;
        p.i.noise_rms = 0.01;
        p.f1 = 50.7;
        p.ramp_s = 3;
        p.i.delay_s = 1e-4;
    }
    wf_gen_t g;
    wf_init(&g, &p);
    mc_meter_config_t cfg;
    mc_meter_config_default(&cfg);
    cfg.u_scale = (float)g.u_scale;
    cfg.i_scale = (float)g.i_scale;
    cfg.on_pulse = on_pulse;
    cfg.on_window = on_window;
    cfg.window_ms = (scen & 8) ? 200 : 1000;
    cfg.pulse_constant = 10000;
    n_elements = mc_meter_elements(&cfg);
    if (mc_meter_init(&meter, &cfg) != MC_OK) {
        exit(1);
    }
    if (scen & 4) {
        mc_calibration_t c;
        mc_calibration_default(&c);
        c.u_gain = 1.01f;
        c.i_gain = 0.99f;
        c.phase_deg = 1.3f;
        c.p_offset = 0.2f;
        c.q_offset = -0.1f;
        mc_calibration_seal(&c);
        mc_meter_set_calibration(&meter, &c);
    }
    const size_t total = 4000u * 8u;
    int32_t *v = malloc(total * sizeof *v), *cur = malloc(total * sizeof *cur);
    if (v == NULL || cur == NULL) {
        exit(1);
    }
    wf_fill(&g, v, cur, total);
    for (size_t k = 8000; k < 8400; k++) { /* a dip to 30 % */
        v[k] = (int32_t)(v[k] * 0.3);
    }
    for (size_t k = 12000; k < 12800; k++) { /* an interruption */
        v[k] = 0;
        cur[k] = 0;
    }
    for (size_t k = 16011; k < 20000; k++) { /* a current step */
        cur[k] = cur[k] / 3;
    }
    for (size_t k = 24007; k < total; k++) { /* a voltage step inside a cycle */
        v[k] = (int32_t)(v[k] * 1.1);
    }
    size_t k = 0;
    unsigned rnd = 1;
    while (k < total) {
        size_t n = next_block(blk, &rnd);
        n = n > total - k ? total - k : n;
        after_block(mc_meter_process(&meter, v + k, cur + k, n));
        k += n;
        if (k > 20000 && k - n <= 20000) {
            printf("flush %d\n", mc_meter_flush(&meter));
        }
    }
    print_energy();
    free(v);
    free(cur);
}

static void run_frames(int wiring, int neutral, int voltages, int circuits, int variant, size_t blk)
{
    pw_params_t *p = calloc(1, sizeof *p);
    pw_gen_t *g = calloc(1, sizeof *g);
    if (p == NULL || g == NULL) {
        exit(1);
    }
    pw_params_init(p, 4000.0, variant & 1 ? 50.3 : 49.9);
    pw_balanced(p, 230.0, variant & 2 ? 0.02 : 4.0, variant & 1 ? -25.0 : 40.0, variant & 4 ? -1 : +1);
    if (variant & 8) {
        pw_set(p, PW_U(1), 5, 12.0, 20.0);
        pw_set(p, PW_I(2), 3, 1.1, 70.0);
        pw_add_event(p, PW_U(2), 1.3, 1.6, 0.0);
        pw_add_event(p, PW_U(1), 2.1, 2.5, 0.3);
    }
    pw_layout_kind kind = wiring == MC_WIRING_1P3W   ? PW_LAYOUT_1P3W
                          : wiring == MC_WIRING_3P3W ? PW_LAYOUT_3P3W
                          : wiring == MC_WIRING_MULTI ? PW_LAYOUT_MULTI
                                                      : PW_LAYOUT_3P4W;
    if (wiring == MC_WIRING_MULTI) {
        for (int c = 3; c < circuits; c++) {
            pw_set(p, PW_I(c + 1), 1, 0.5 + c, 10.0 * c);
        }
    }
    const int nch = pw_layout(p, kind, neutral, voltages, circuits, 400.0, 10.0, 24);
    for (int c = 0; c < nch; c++) {
        p->ch[c].noise_rms = 1e-5 * p->ch[c].full_scale;
    }
    p->theta0_deg = 33.0 + variant;
    p->seed = 77u + (uint64_t)variant;
    pw_init(g, p);
    mc_meter_config_t cfg;
    mc_meter_config_default(&cfg);
    cfg.wiring = (mc_wiring)wiring;
    cfg.neutral = (uint8_t)neutral;
    cfg.voltages = (uint8_t)voltages;
    cfg.circuits = (uint8_t)circuits;
    cfg.channel_state = channels;
    cfg.pair_state = pairs;
    cfg.element_state = elements;
    cfg.on_window = on_window;
    cfg.u_scale = (float)pw_scale(&p->ch[0]);
    cfg.i_scale = (float)pw_scale(&p->ch[nch - 1]);
    n_elements = mc_meter_elements(&cfg);
    if (mc_meter_init(&meter, &cfg) != MC_OK) {
        exit(1);
    }
    const size_t n = 4000u * 4u;
    int32_t *f = malloc(n * (size_t)nch * sizeof *f);
    if (f == NULL) {
        exit(1);
    }
    pw_fill(g, f, n);
    size_t off = 0;
    unsigned rnd = 7;
    while (off < n) {
        size_t len = next_block(blk, &rnd);
        len = len > n - off ? n - off : len;
        after_block(mc_meter_process_frames(&meter, f + off * (size_t)nch, len));
        off += len;
    }
    print_energy();
    free(f);
    free(g);
    free(p);
}

/*
 * Full-scale codes at 64 kHz (cycles of 1280 frames), 3P4W with a measured neutral: each
 * channel a sine of 1.3 times full scale clipped to [-(2^23 - 1), 2^23 - 1], with an odd
 * pseudo-random dither, so that long runs of codes near 2^23 with odd squares test the
 * sums' exactness (the binary64 form's runs: see MC_KERNEL_F64X2). After every block the
 * raw integer sums of every channel and product, which every form must have bit for bit.
 */
static void run_sums(void)
{
    mc_meter_config_t cfg;
    mc_meter_config_default(&cfg);
    cfg.wiring = MC_WIRING_3P4W;
    cfg.neutral = 1;
    cfg.sample_rate_hz = 64000;
    cfg.window_ms = 200;
    cfg.channel_state = channels;
    cfg.pair_state = pairs;
    cfg.element_state = elements;
    cfg.on_window = on_window;
    cfg.u_scale = 400.0f / 8388608.0f;
    cfg.i_scale = 100.0f / 8388608.0f;
    n_elements = mc_meter_elements(&cfg);
    if (mc_meter_init(&meter, &cfg) != MC_OK) {
        exit(1);
    }
    const unsigned nch = mc_meter_channels(&cfg);
    const size_t n = 64000u;
    int32_t *f = malloc(n * nch * sizeof *f);
    if (f == NULL) {
        exit(1);
    }
    const double full = 8388607.0, two_pi = 6.283185307179586;
    unsigned rnd = 99;
    for (size_t k = 0; k < n; k++) {
        for (unsigned c = 0; c < nch; c++) {
            double x = 1.3 * full * sin(two_pi * 50.0 * (double)k / 64000.0 - two_pi * (double)(c % 3) / 3.0 - 0.1 * c);
            rnd = rnd * 1103515245u + 12345u;
            x += (double)((rnd >> 16) % 64u) * 2.0 + 1.0 - 64.0; /* odd, -63..63 */
            if (x > full) { /* clipped: 2^23 - 1, -3, -5 or -7 */
                x = full - (double)((rnd >> 8) % 4u) * 2.0;
            } else if (x < -full) {
                x = -full + (double)((rnd >> 4) % 4u) * 2.0;
            }
            f[k * nch + c] = (int32_t)x;
        }
    }
    size_t off = 0;
    while (off < n) {
        rnd = rnd * 1103515245u + 12345u;
        size_t len = (rnd >> 16) % 3000u;
        len = len > n - off ? n - off : len;
        after_block(mc_meter_process_frames(&meter, f + off * nch, len));
        off += len;
        printf("sums");
        for (unsigned c = 0; c < nch; c++) {
            const mc_meter_channel_t *ch = &channels[c];
            printf(" %lld %lld %lld %lld %lld %lld %lld %lld", (long long)ch->c_xx, (long long)ch->c_xc,
                   (long long)ch->c_xs, (long long)ch->c_x, (long long)ch->wc_xx, (long long)ch->wc_xc,
                   (long long)ch->wc_xs, (long long)ch->wc_x);
        }
        for (unsigned q = 0; q < MC_MAX_PAIRS; q++) {
            printf(" %lld %lld", (long long)pairs[q].c_xy, (long long)pairs[q].wc_xy);
        }
        printf("\n");
    }
    print_energy();
    free(f);
}

int main(void)
{
    static const size_t blocks[] = {160, 0, 1, 64, 33};
    for (int s = 0; s < 16; s++) {
        for (int b = 0; b < 3; b++) {
            printf("single %d %zu\n", s, blocks[b]);
            run_single(s, blocks[b]);
        }
    }
    static const int wirings[][4] = {{MC_WIRING_3P4W, 0, 0, 0}, {MC_WIRING_3P4W, 1, 0, 0},
                                     {MC_WIRING_1P3W, 0, 0, 0}, {MC_WIRING_3P3W, 0, 0, 0},
                                     {MC_WIRING_MULTI, 0, 1, 5}, {MC_WIRING_MULTI, 0, 3, 6}};
    for (int w = 0; w < 6; w++) {
        for (int v = 0; v < 16; v++) {
            if ((v & 2) && (v & 4)) {
                continue;
            }
            printf("frames %d %d\n", w, v);
            run_frames(wirings[w][0], wirings[w][1], wirings[w][2], wirings[w][3], v, blocks[(w + v) % 5]);
        }
    }
    printf("sums\n");
    run_sums();
    return 0;
}
