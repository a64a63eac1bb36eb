/*
 * metersim replay FILE.wav --v-scale V --i-scale A [--wiring W] [--netting sum|phase]
 *                 [--json] [--windows]
 *
 * Feeds a WAV through a fresh meter as fast as possible. The file's channels are the
 * wiring's frame (mc_meter.h, mc_wiring), in this order:
 *   1p2w     U I (the default: 2 channels, voltage then current)
 *   1p3w     U1 U2 I1 I2
 *   3p4w     U1 U2 U3 I1 I2 I3, and optionally IN (7 channels: the neutral measured, with
 *            the sign of a return current, IN = -(I1 + I2 + I3) in a healthy system)
 *   3p3w     U12 U32 I1 I3 (two-element Aron)
 *   multi:N  U1 I1..IN (N + 1 channels) or U1 U2 U3 I1..IN (N + 3: circuit k on voltage
 *            k mod 3, i.e. I1 on U1, I2 on U2, I3 on U3, I4 on U1, ...)
 * Full scale of the file stands for V volts (every voltage channel) and A amps (every
 * current channel, IN too), instantaneous; samples become codes of a 24-bit range
 * (2^23 = full scale), so u_scale = V / 2^23 and i_scale = A / 2^23. The meter: defaults
 * (mc_meter_config_default) with the file's sample rate, Un 230 V, In 5 A, Imax 60 A, the
 * wiring and the netting (sum by default). Prints the last complete window and the energy
 * over the file: at the end of the file the open window is closed (mc_meter_flush), so the
 * energy is the integral over every sample after the meter's start-up acquisition
 * (startup_s). Poly-phase wirings add each element's readings of that same window and its
 * own energy registers over the whole file, and the system's (vector S, line-to-line
 * voltages, sequence, unbalance, neutral). --windows prints every closed window (totals)
 * as CSV instead, for a lab to line up with its reference standard.
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>

#include "metercore/mc_meter.h"
#include "load.h"
#include "metersim.h"
#include "wav.h"

static void replay_help(FILE *f)
{
    fprintf(f,
            "usage: metersim replay FILE.wav --v-scale V --i-scale A [--wiring W] [--netting sum|phase]\n"
            "                       [--json] [--windows]\n"
            "  Feeds a WAV (PCM 16/24/32-bit or 32-bit float, plain or WAVE_FORMAT_EXTENSIBLE;\n"
            "  1000..64000 Hz) through a fresh meter (Un 230 V, In 5 A, Imax 60 A) as fast as\n"
            "  possible, then prints the last complete window and the energy accumulated over the\n"
            "  whole file: at its end the open window is closed, so the energy covers every sample\n"
            "  from the end of the meter's start-up acquisition (startup_s: seconds from the file's\n"
            "  first sample to the first sample in the energy) to the last sample.\n"
            "  --v-scale V   instantaneous volts that full scale stands for (> 0), every voltage channel\n"
            "  --i-scale A   instantaneous amps that full scale stands for (> 0), every current channel\n"
            "  --wiring W    the file's channels, in this order (a count that does not fit is refused):\n"
            "                  1p2w     U I (the default)\n"
            "                  1p3w     U1 U2 I1 I2 (split phase: U1, U2 to neutral, in antiphase)\n"
            "                  3p4w     U1 U2 U3 I1 I2 I3 [IN] (to neutral; 7 channels: IN measured,\n"
            "                           scaled by --i-scale, with the sign of a return current:\n"
            "                           IN = -(I1 + I2 + I3) when healthy)\n"
            "                  3p3w     U12 U32 I1 I3 (two elements, Aron)\n"
            "                  multi:N  U1 I1..IN (N+1 channels), or U1 U2 U3 I1..IN (N+3: circuits\n"
            "                           round-robin on the voltages, I1 on U1, I2 on U2, I3 on U3,\n"
            "                           I4 on U1, ...); N 1..16\n"
            "  --netting M   how the total energy books the elements: sum (default; per window the\n"
            "                sum of the elements' P by its sign) or phase (each element by its own sign)\n"
            "  --json        one JSON object instead of text; for every wiring but 1p2w it adds\n"
            "                q1, phases (per element: urms, irms, p, q, s, pf, u_angle_deg,\n"
            "                i_angle_deg relative to U1, and the element's own energy over the file),\n"
            "                s_vector, u12, u23, u31, sequence, u_unbalance_pct, i_unbalance_pct,\n"
            "                missing_phases, i_neutral, i_neutral_calc, neutral_mismatch\n"
            "  --windows     every closed window as CSV instead (one header line, then a line per\n"
            "                window: start_s, duration_s, urms_v, irms_a, p_w, q_var, s_va, pf,\n"
            "                freq_hz, flags, active_import_wh, active_export_wh,\n"
            "                reactive_import_varh, reactive_export_varh; flags are the names of\n"
            "                mc_meter.h's MC_FLAG_* joined by '|', energies the window's own; the\n"
            "                totals for a poly-phase wiring)\n"
            "  --help        this text\n");
}

typedef struct replay_ctx {
    uint64_t windows;
    double window_s;
    uint64_t first_sample;  /* the first window's first sample: start of the energy */
    mc_reading_t complete;  /* the last window that was not cut short by the flush */
    int have_complete;
    int csv;                /* --windows */
    double fs;
    ms_poly_view_t view;    /* poly-phase: the elements of the last complete window */
    uint64_t view_start;    /* that window's first sample */
    int have_view;
} replay_ctx_t;

#define WH(q) ((double)(q) / (double)MC_ENERGY_QUANTA_PER_WH)

/* The flag names, in bit order, as mc_meter.h spells them without the MC_FLAG_ prefix. */
static const struct {
    uint32_t bit;
    const char *name;
} flag_names[] = {
    {MC_FLAG_NO_VOLTAGE, "NO_VOLTAGE"}, {MC_FLAG_CREEP_P, "CREEP_P"},       {MC_FLAG_CREEP_Q, "CREEP_Q"},
    {MC_FLAG_SETTLING, "SETTLING"},     {MC_FLAG_CAPACITIVE, "CAPACITIVE"}, {MC_FLAG_INDUCTIVE, "INDUCTIVE"},
    {MC_FLAG_PARTIAL, "PARTIAL"},       {MC_FLAG_IRREGULAR, "IRREGULAR"},
};

static void print_window_csv(const replay_ctx_t *c, const mc_reading_t *r)
{
    printf("%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,", (double)r->start_sample / c->fs, (double)r->duration_s,
           r->urms, r->irms, r->p, r->q, r->s, r->pf, r->freq);
    int first = 1;
    for (size_t k = 0; k < sizeof(flag_names) / sizeof(flag_names[0]); k++) {
        if (r->flags & flag_names[k].bit) {
            printf("%s%s", first ? "" : "|", flag_names[k].name);
            first = 0;
        }
    }
    printf(",%.9f,%.9f,%.9f,%.9f\n", WH(r->delta.q[MC_E_ACTIVE_IMPORT]), WH(r->delta.q[MC_E_ACTIVE_EXPORT]),
           WH(mc_energy_reactive_import(&r->delta)), WH(mc_energy_reactive_export(&r->delta)));
}

static void on_window(void *ctx, const mc_reading_t *r)
{
    replay_ctx_t *c = ctx;
    if (c->windows == 0) {
        c->first_sample = r->start_sample;
    }
    c->windows++;
    c->window_s += r->duration_s;
    if (!(r->flags & MC_FLAG_PARTIAL)) {
        c->complete = *r;
        c->have_complete = 1;
    }
    if (c->csv) {
        print_window_csv(c, r);
    }
}

int ms_cmd_replay(int argc, char **argv)
{
    const char *path = NULL;
    double vscale = 0.0, iscale = 0.0;
    int have_v = 0, have_i = 0, json = 0, csv = 0;
    ms_wiring_t wiring;
    ms_wiring_default(&wiring);
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        char name[32];
        if (strncmp(a, "--", 2) == 0 && eq != NULL && (size_t)(eq - a) < sizeof(name)) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            val = eq + 1;
            a = name;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            replay_help(stdout);
            return MS_EXIT_OK;
        } else if (strcmp(a, "--json") == 0 && val == NULL) {
            json = 1;
        } else if (strcmp(a, "--windows") == 0 && val == NULL) {
            csv = 1;
        } else if (strcmp(a, "--wiring") == 0 || strcmp(a, "--netting") == 0) {
            if (val == NULL) {
                if (k + 1 >= argc) {
                    ms_error("replay: %s needs a value", a);
                    return MS_EXIT_USAGE;
                }
                val = argv[++k];
            }
            char why[200];
            if (a[2] == 'w' ? ms_wiring_parse(val, &wiring, why, sizeof(why)) != 0
                            : ms_netting_parse(val, &wiring.netting, why, sizeof(why)) != 0) {
                ms_error("replay: %s", why);
                return MS_EXIT_USAGE;
            }
        } else if (strcmp(a, "--v-scale") == 0 || strcmp(a, "--i-scale") == 0) {
            if (val == NULL) {
                if (k + 1 >= argc) {
                    ms_error("replay: %s needs a value", a);
                    return MS_EXIT_USAGE;
                }
                val = argv[++k];
            }
            double x;
            if (ms_parse_double(val, &x) != 0 || !(x > 0.0) || x > 1e7) {
                ms_error("replay: bad %s '%s' (a positive number)", a, val);
                return MS_EXIT_USAGE;
            }
            if (a[2] == 'v') {
                vscale = x;
                have_v = 1;
            } else {
                iscale = x;
                have_i = 1;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            ms_error("replay: unknown option '%s' (try metersim replay --help)", argv[k]);
            return MS_EXIT_USAGE;
        } else if (path == NULL) {
            path = a;
        } else {
            ms_error("replay: one WAV file only ('%s' is extra)", a);
            return MS_EXIT_USAGE;
        }
    }
    if (path == NULL) {
        ms_error("replay: no WAV file given (try metersim replay --help)");
        return MS_EXIT_USAGE;
    }
    if (!have_v || !have_i) {
        ms_error("replay: --v-scale and --i-scale are required");
        return MS_EXIT_USAGE;
    }
    if (json && csv) {
        ms_error("replay: --json and --windows are two output formats: choose one");
        return MS_EXIT_USAGE;
    }

    ms_wav_t w;
    char err[600];
    if (ms_wav_open_any(&w, path, err, sizeof(err)) != 0) {
        ms_error("replay: %s", err);
        return MS_EXIT_USAGE;
    }
    if (ms_wiring_fit(&wiring, w.channels, err, sizeof(err)) != 0) {
        ms_wav_close(&w);
        ms_error("replay: %s: %s", path, err);
        return MS_EXIT_USAGE;
    }
    const int poly = wiring.wiring != MC_WIRING_1P2W;

    static replay_ctx_t ctx; /* with the poly-phase snapshot: off the stack */
    memset(&ctx, 0, sizeof(ctx));
    ctx.csv = csv;
    ctx.fs = (double)w.sample_rate;
    mc_meter_config_t cfg;
    mc_meter_config_default(&cfg);
    cfg.sample_rate_hz = w.sample_rate;
    cfg.u_scale = (float)(vscale / 8388608.0);
    cfg.i_scale = (float)(iscale / 8388608.0);
    cfg.un = 230.0f;
    cfg.in = 5.0f;
    cfg.imax = 60.0f;
    cfg.on_window = on_window;
    cfg.context = &ctx;
    static ms_meter_state_t state; /* the poly-phase meter's arrays, next to the meter */
    static mc_meter_t meter;
    ms_wiring_config(&wiring, &cfg, &state);
    int rc = mc_meter_init(&meter, &cfg);
    if (rc != MC_OK) {
        ms_wav_close(&w);
        ms_error("replay: the meter refuses this configuration (%s): check the scales", mc_strerror(rc));
        return MS_EXIT_USAGE;
    }

    if (csv) {
        printf("start_s,duration_s,urms_v,irms_a,p_w,q_var,s_va,pf,freq_hz,flags,active_import_wh,"
               "active_export_wh,reactive_import_varh,reactive_export_varh\n");
    }
    enum { BLOCK = 4096 };
    static int32_t v[BLOCK], i[BLOCK];
    static int32_t fr[BLOCK * MS_WAV_MAX_CHANNELS];
    uint64_t frames = 0;
    size_t n;
    for (;;) {
        int ev;
        if (!poly) {
            if ((n = ms_wav_read(&w, v, i, BLOCK)) == 0) {
                break;
            }
            ev = mc_meter_process(&meter, v, i, n);
        } else {
            if ((n = ms_wav_read_frames(&w, fr, BLOCK)) == 0) {
                break;
            }
            ev = mc_meter_process_frames(&meter, fr, n);
        }
        frames += n;
        if (poly && ev > 0 && (ev & MC_EVENT_WINDOW)) {
            /* the last window closed in the block (never a partial one: only the flush makes
             * those) is the last complete one so far: its elements with it */
            mc_reading_t last;
            if (mc_meter_reading(&meter, &last) == MC_OK && !(last.flags & MC_FLAG_PARTIAL) &&
                ms_poly_capture(&meter, &ctx.view) == 0) {
                ctx.view_start = last.start_sample;
                ctx.have_view = 1;
            }
        }
    }
    ms_wav_close(&w);
    /* End of the stream: the open window is closed and booked like any other. */
    mc_meter_flush(&meter);
    if (csv) {
        return MS_EXIT_OK;
    }

    mc_reading_t r = ctx.complete;
    const int have = ctx.have_complete;
    if (!have) {
        memset(&r, 0, sizeof(r));
    }
    /* Seconds from the file's first sample to the first sample in the energy (-1: none). */
    const double startup_s = ctx.windows > 0 ? (double)ctx.first_sample / (double)w.sample_rate : -1.0;
    mc_energy_t e;
    mc_meter_energy(&meter, &e);
    /* the elements: of the same window as the totals, their energy over the whole file */
    static ms_poly_view_t view;
    memset(&view, 0, sizeof(view));
    if (poly) {
        if (have && ctx.have_view && ctx.view_start == r.start_sample) {
            view = ctx.view;
        } else {
            view.n = wiring.circuits;
        }
        ms_poly_energies(&meter, &view);
    }
    const double ai = WH(e.q[MC_E_ACTIVE_IMPORT]), ae = WH(e.q[MC_E_ACTIVE_EXPORT]);
    const double ri = WH(mc_energy_reactive_import(&e)), re = WH(mc_energy_reactive_export(&e));
    const double secs = (double)frames / (double)w.sample_rate;

    if (json) {
        printf("{\"file\":\"");
        for (const char *p = path; *p != '\0'; p++) {
            unsigned char c = (unsigned char)*p;
            if (c == '"' || c == '\\') {
                printf("\\%c", c);
            } else if (c < 0x20) {
                printf("\\u%04x", c);
            } else {
                putchar(c);
            }
        }
        printf("\",\"sample_rate\":%lu,\"bits\":%u,\"float\":%s,\"samples\":%llu,\"seconds\":%.6f,"
               "\"windows\":%llu,\"windows_s\":%.6f,\"complete_window\":%s,\"startup_s\":%.6f,",
               (unsigned long)w.sample_rate, (unsigned)w.bits, w.is_float ? "true" : "false",
               (unsigned long long)frames, secs, (unsigned long long)ctx.windows, ctx.window_s,
               have ? "true" : "false", startup_s);
        printf("\"urms\":%.6f,\"irms\":%.6f,\"p\":%.6f,\"q\":%.6f,\"s\":%.6f,\"pf\":%.6f,\"freq\":%.6f,"
               "\"window_s\":%.6f,\"quadrant\":%u,\"flags\":%u,",
               r.urms, r.irms, r.p, r.q, r.s, r.pf, r.freq, r.duration_s, (unsigned)r.quadrant,
               (unsigned)r.flags);
        printf("\"active_import_wh\":%.9f,\"active_export_wh\":%.9f,\"reactive_import_varh\":%.9f,"
               "\"reactive_export_varh\":%.9f",
               ai, ae, ri, re);
        if (poly) {
            ms_poly_json(stdout, &wiring, &view, r.q);
            printf(",\"channels\":%u", (unsigned)w.channels);
        }
        printf("}\n");
    } else {
        printf("file      %s: %lu Hz, %u-bit %s, %llu samples (%.3f s), %llu windows (%.3f s)\n", path,
               (unsigned long)w.sample_rate, (unsigned)w.bits, w.is_float ? "float" : "PCM",
               (unsigned long long)frames, secs, (unsigned long long)ctx.windows, ctx.window_s);
        if (poly) {
            char name[16], layout[160];
            ms_wiring_name(&wiring, name, sizeof(name));
            ms_wiring_layout(&wiring, layout, sizeof(layout));
            printf("wiring    %s (%s), netting %s\n", name, layout,
                   wiring.netting == MC_NETTING_PHASE ? "phase" : "sum");
        }
        if (startup_s >= 0.0) {
            printf("energy    from %.6f s (start-up acquisition) to the end of the file\n", startup_s);
        } else {
            printf("energy    none (the file ends inside the meter's start-up acquisition)\n");
        }
        if (have) {
            printf("window    U %.4f V  I %.5f A  F %.4f Hz  (%.3f s, quadrant %u)\n", r.urms, r.irms, r.freq,
                   r.duration_s, (unsigned)r.quadrant);
            printf("power     P %.4f W  Q %.4f var  S %.4f VA  PF %.5f\n", r.p, r.q, r.s, r.pf);
            if (poly) {
                ms_poly_text(stdout, &wiring, &view);
            }
        } else {
            printf("window    none complete (the file is shorter than one window)\n");
        }
        printf("active    import %.6f Wh  export %.6f Wh\n", ai, ae);
        printf("reactive  import %.6f varh  export %.6f varh\n", ri, re);
    }
    return MS_EXIT_OK;
}
