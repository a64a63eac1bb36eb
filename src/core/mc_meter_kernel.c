/*
 * metercore core: the per-sample work. The block loop of mc_meter_process() and
 * mc_meter_process_frames(): the acquisition's first segment, the crossing scan and the
 * accumulation of every channel's and product's sums, between the cycle closes that
 * mc_meter.c does (mc_meter_close_cycle()). See docs/DESIGN.md, "Per-sample cost".
 * SPDX-License-Identifier: MIT
 */
#include "metercore/mc_meter.h"

#include "mc_core_internal.h"

/*
 * Q15 sine over one cycle in 256 steps: round(32767 * sin(2*pi*k/256)).
 * The DFT reference reads it at index = phase >> 24 (cosine at +64).
 */
static const int16_t mc_sine_q15[256] = {
         0,    804,   1608,   2410,   3212,   4011,   4808,   5602,
      6393,   7179,   7962,   8739,   9512,  10278,  11039,  11793,
     12539,  13279,  14010,  14732,  15446,  16151,  16846,  17530,
     18204,  18868,  19519,  20159,  20787,  21403,  22005,  22594,
     23170,  23731,  24279,  24811,  25329,  25832,  26319,  26790,
     27245,  27683,  28105,  28510,  28898,  29268,  29621,  29956,
     30273,  30571,  30852,  31113,  31356,  31580,  31785,  31971,
     32137,  32285,  32412,  32521,  32609,  32678,  32728,  32757,
     32767,  32757,  32728,  32678,  32609,  32521,  32412,  32285,
     32137,  31971,  31785,  31580,  31356,  31113,  30852,  30571,
     30273,  29956,  29621,  29268,  28898,  28510,  28105,  27683,
     27245,  26790,  26319,  25832,  25329,  24811,  24279,  23731,
     23170,  22594,  22005,  21403,  20787,  20159,  19519,  18868,
     18204,  17530,  16846,  16151,  15446,  14732,  14010,  13279,
     12539,  11793,  11039,  10278,   9512,   8739,   7962,   7179,
      6393,   5602,   4808,   4011,   3212,   2410,   1608,    804,
         0,   -804,  -1608,  -2410,  -3212,  -4011,  -4808,  -5602,
     -6393,  -7179,  -7962,  -8739,  -9512, -10278, -11039, -11793,
    -12539, -13279, -14010, -14732, -15446, -16151, -16846, -17530,
    -18204, -18868, -19519, -20159, -20787, -21403, -22005, -22594,
    -23170, -23731, -24279, -24811, -25329, -25832, -26319, -26790,
    -27245, -27683, -28105, -28510, -28898, -29268, -29621, -29956,
    -30273, -30571, -30852, -31113, -31356, -31580, -31785, -31971,
    -32137, -32285, -32412, -32521, -32609, -32678, -32728, -32757,
    -32767, -32757, -32728, -32678, -32609, -32521, -32412, -32285,
    -32137, -31971, -31785, -31580, -31356, -31113, -30852, -30571,
    -30273, -29956, -29621, -29268, -28898, -28510, -28105, -27683,
    -27245, -26790, -26319, -25832, -25329, -24811, -24279, -23731,
    -23170, -22594, -22005, -21403, -20787, -20159, -19519, -18868,
    -18204, -17530, -16846, -16151, -15446, -14732, -14010, -13279,
    -12539, -11793, -11039, -10278,  -9512,  -8739,  -7962,  -7179,
     -6393,  -5602,  -4808,  -4011,  -3212,  -2410,  -1608,   -804,
};

/* Samples whose DFT reference is computed once for every channel (stack: 512 bytes). */
#define MC_CHUNK 64u

/* The sums of one channel over a chunk, added to its cycle accumulators. */
static void add_channel_sums(mc_meter_channel_t *ch, int64_t s1, int64_t s2, int64_t sxc, int64_t sxs)
{
    ch->c_x += s1;
    ch->c_xx += s2;
    ch->c_xc += sxc;
    ch->c_xs += sxs;
}

/*
 * One element over a chunk, its samples loaded once: the current's sums, Σv·i and,
 * unless another element already took them (voltages shared by circuits), the
 * voltage's sums and peak. x points at frame 0 of the chunk, nch apart.
 */
static void chunk_element(mc_meter_t *m, const mc_meter_element_t *el, mc_meter_pair_t *pr, const int32_t *x,
                          size_t nch, size_t len, const int32_t *ref, int with_voltage)
{
    mc_meter_channel_t *cu = &MC_CH(m)[el->u], *ci = &MC_CH(m)[el->i];
    const int32_t *xu = x + el->u, *xi = x + el->i;
    const int32_t du = cu->dc, di = ci->dc;
    int64_t si = 0, sii = 0, sic = 0, sis = 0, svi = 0;
    if (with_voltage) {
        int64_t sv = 0, svv = 0, svc = 0, svs = 0;
        for (size_t j = 0, o = 0; j < len; j++, o += nch) {
            const int32_t v = xu[o] - du;
            const int32_t i = xi[o] - di;
            const int32_t c = ref[2u * j], sj = ref[2u * j + 1u];
            sv += v;
            svv += (int64_t)v * v;
            svc += (int64_t)v * c;
            svs += (int64_t)v * sj;
            si += i;
            sii += (int64_t)i * i;
            sic += (int64_t)i * c;
            sis += (int64_t)i * sj;
            svi += (int64_t)v * i;
        }
        add_channel_sums(cu, sv, svv, svc, svs);
    } else {
        for (size_t j = 0, o = 0; j < len; j++, o += nch) {
            const int32_t v = xu[o] - du;
            const int32_t i = xi[o] - di;
            si += i;
            sii += (int64_t)i * i;
            sic += (int64_t)i * ref[2u * j];
            sis += (int64_t)i * ref[2u * j + 1u];
            svi += (int64_t)v * i;
        }
    }
    add_channel_sums(ci, si, sii, sic, sis);
    pr->c_xy += svi;
}

/* A channel no element measures (the neutral) over a chunk. */
static void chunk_channel(mc_meter_t *m, unsigned c, const int32_t *x, size_t nch, size_t len, const int32_t *ref)
{
    mc_meter_channel_t *ch = &MC_CH(m)[c];
    const int32_t *xc = x + c;
    const int32_t dc = ch->dc;
    int64_t s1 = 0, s2 = 0, sxc = 0, sxs = 0;
    for (size_t j = 0; j < len; j++, xc += nch) {
        const int32_t v = *xc - dc;
        s1 += v;
        s2 += (int64_t)v * v;
        sxc += (int64_t)v * ref[2u * j];
        sxs += (int64_t)v * ref[2u * j + 1u];
    }
    add_channel_sums(ch, s1, s2, sxc, sxs);
}

/* Cross products over a chunk: count 1 (pr[0] = a·b) or 3 (a·b, b·c, c·a), and with
 * a fourth channel d (the neutral) also a·d, b·d, c·d into pr[3..5]. */
static void chunk_cross(mc_meter_t *m, mc_meter_pair_t *pr, unsigned count, const int32_t *x, size_t nch,
                        size_t len)
{
    const unsigned a = pr[0].a, b = pr[0].b;
    const int32_t da = MC_CH(m)[a].dc, db = MC_CH(m)[b].dc;
    const int32_t *xa = x + a, *xb = x + b;
    const size_t stop = len * nch;
    if (count == 1u) {
        int64_t ab = 0;
        for (size_t o = 0; o < stop; o += nch) {
            ab += (int64_t)(xa[o] - da) * (xb[o] - db);
        }
        pr[0].c_xy += ab;
        return;
    }
    const unsigned c = pr[1].b;
    const int32_t dcc = MC_CH(m)[c].dc;
    const int32_t *xc = x + c;
    int64_t ab = 0, bc = 0, ca = 0;
    if (count == 3u) {
        for (size_t o = 0; o < stop; o += nch) {
            const int32_t va = xa[o] - da, vb = xb[o] - db, vc = xc[o] - dcc;
            ab += (int64_t)va * vb;
            bc += (int64_t)vb * vc;
            ca += (int64_t)vc * va;
        }
    } else {
        const unsigned d = pr[3].b;
        const int32_t dd = MC_CH(m)[d].dc;
        const int32_t *xd = x + d;
        int64_t ad = 0, bd = 0, cd = 0;
        for (size_t o = 0; o < stop; o += nch) {
            const int32_t va = xa[o] - da, vb = xb[o] - db, vc = xc[o] - dcc, vd = xd[o] - dd;
            ab += (int64_t)va * vb;
            bc += (int64_t)vb * vc;
            ca += (int64_t)vc * va;
            ad += (int64_t)va * vd;
            bd += (int64_t)vb * vd;
            cd += (int64_t)vc * vd;
        }
        pr[3].c_xy += ad;
        pr[4].c_xy += bd;
        pr[5].c_xy += cd;
    }
    pr[0].c_xy += ab;
    pr[1].c_xy += bc;
    pr[2].c_xy += ca;
}

/*
 * Pass 2 of a frames block: accumulate frames [k, end) of every channel and product.
 * The reference's sine and cosine are looked up once per chunk of frames and shared;
 * each element then runs over the chunk loading its voltage and current once.
 */
static void accumulate_frames(mc_meter_t *m, const int32_t *f, size_t k, size_t end, uint32_t *phase_io)
{
    const size_t nch = m->n_ch;
    uint32_t phase = *phase_io;
    const uint32_t dphase = m->dphase;
    int32_t ref[2u * MC_CHUNK]; /* cos, sin of each frame, side by side */
    while (k < end) {
        const size_t len = (end - k) < MC_CHUNK ? (end - k) : MC_CHUNK;
        int32_t sc = 0, ss = 0;
        for (size_t j = 0; j < len; j++) {
            const uint32_t idx = phase >> 24;
            const int32_t sn = mc_sine_q15[idx];
            const int32_t cs = mc_sine_q15[(idx + 64u) & 255u];
            ref[2u * j] = cs;
            ref[2u * j + 1u] = sn;
            sc += cs;
            ss += sn;
            phase += dphase;
        }
        m->c_c += sc;
        m->c_s += ss;
        const int32_t *base = f + k * nch;
        uint32_t done = 0; /* channels whose sums this chunk has */
        for (unsigned e = 0; e < m->n_el; e++) {
            const mc_meter_element_t *el = &MC_EL(m)[e];
            const int with_voltage = !(done & (1u << el->u));
            chunk_element(m, el, &MC_PR(m)[e], base, nch, len, ref, with_voltage);
            done |= (1u << el->u) | (1u << el->i);
        }
        for (unsigned c = 0; c < nch; c++) {
            if (!(done & (1u << c))) {
                chunk_channel(m, c, base, nch, len, ref);
            }
        }
        if (m->n_ll > 0u) {
            chunk_cross(m, &MC_PR(m)[m->ll_first], m->n_ll, base, nch, len);
        }
        if (m->n_icross > 0u) {
            chunk_cross(m, &MC_PR(m)[m->in_first], m->n_icross, base, nch, len);
        }
        k += len;
    }
    *phase_io = phase;
}

/*
 * Pass 1: find where the cycle under way ends in frames [k, stop) (a positive-going
 * crossing of the reference voltage, armed by a swing below -hyst, while the cycle
 * shows voltage present), or the end. x points at the reference channel of frame 0,
 * stride frames apart. Returns the end; *crossing and *frac say whether and where.
 */
typedef struct scan_state {
    int32_t dc, hyst, zc_min, prev, peak;
    int armed;
} scan_state_t;

static size_t scan_crossing(const int32_t *x, size_t stride, size_t k, size_t soon, size_t stop, scan_state_t *st,
                            int *crossing, float *frac)
{
    size_t end = k;
    int32_t prev = st->prev, peak = st->peak;
    int armed = st->armed;
    /* Too soon after the previous crossing for another one: sign and peak only. */
    for (const size_t quiet = soon < stop ? soon : stop; end < quiet; end++) {
        const int32_t vs = x[end * stride] - st->dc;
        if (vs < -st->hyst) {
            armed = 1;
        }
        const int32_t av = vs < 0 ? -vs : vs;
        peak = av > peak ? av : peak;
        prev = vs;
    }
    for (; end < stop; end++) {
        const int32_t vs = x[end * stride] - st->dc;
        if (vs < -st->hyst) {
            armed = 1;
        } else if (armed && vs >= 0 && prev < 0 && peak >= st->zc_min) {
            *frac = (float)(-prev) / (float)(vs - prev);
            *crossing = 1;
            break;
        }
        const int32_t av = vs < 0 ? -vs : vs;
        peak = av > peak ? av : peak;
        prev = vs;
    }
    st->prev = prev;
    st->peak = peak;
    st->armed = armed;
    return end;
}

/*
 * Acquisition, first segment: 1/40 s (a whole cycle at any mains frequency from
 * 40 Hz up) to find each channel's DC as the midpoint of its extremes, which is
 * exact for any half-wave symmetric waveform whatever the segment covers. Frames
 * of n_ch channels (the 1P2W path passes v and i separately: see mc_meter_process()).
 * Returns the frames consumed.
 */
static size_t acquire_first(mc_meter_t *m, const int32_t *v, const int32_t *i, const int32_t *f, size_t n)
{
    size_t k = 0;
    for (; k < n && m->acq_count < m->cycle_timeout; k++) {
        for (unsigned c = 0; c < m->n_ch; c++) {
            const int32_t x = f != NULL ? f[k * m->n_ch + c] : (c == 0 ? v[k] : i[k]);
            mc_meter_channel_t *ch = &MC_CH(m)[c];
            ch->acq_min = x < ch->acq_min ? x : ch->acq_min;
            ch->acq_max = x > ch->acq_max ? x : ch->acq_max;
        }
        m->acq_count++;
    }
    if (m->acq_count >= m->cycle_timeout) {
        for (unsigned c = 0; c < m->n_ch; c++) {
            mc_meter_channel_t *ch = &MC_CH(m)[c];
            /* Midpoints; the halves are summed separately so nothing overflows. */
            ch->dc = ch->acq_min / 2 + ch->acq_max / 2;
            ch->off = ch->w_off = (float)ch->dc;
        }
        const mc_meter_channel_t *r = &MC_CH(m)[m->ref];
        const int32_t h = (r->acq_max / 2 - r->acq_min / 2) / 4;
        m->hyst = h > m->vmin_peak / 4 ? h : m->vmin_peak / 4;
        m->acquire_segments = 1;
        m->armed = 0;
        m->prev_v = 0;
    }
    return k;
}

/* The 1P2W sample loop: separate voltage and current arrays, the sums of frames U1 I1. */
static void accumulate_pair(mc_meter_t *m, const int32_t *v, const int32_t *i, size_t k, size_t end,
                            uint32_t *phase_io)
{
    mc_meter_channel_t *cv = &MC_CH(m)[0], *ci = &MC_CH(m)[1];
    const int32_t dc_v = cv->dc, dc_i = ci->dc;
    uint32_t phase = *phase_io;
    const uint32_t dphase = m->dphase;
    int64_t sv = 0, si = 0, vv = 0, ii = 0, vi = 0, vc = 0, vsn = 0, ic = 0, isn = 0;
    int32_t c = 0, s = 0;
    for (size_t j = k; j < end; j++) {
        const int32_t vs = v[j] - dc_v;
        const int32_t is = i[j] - dc_i;
        const uint32_t idx = phase >> 24;
        const int32_t sn = mc_sine_q15[idx];
        const int32_t cs = mc_sine_q15[(idx + 64u) & 255u];
        phase += dphase;
        sv += vs;
        si += is;
        vv += (int64_t)vs * vs;
        ii += (int64_t)is * is;
        vi += (int64_t)vs * is;
        vc += (int64_t)vs * cs;
        vsn += (int64_t)vs * sn;
        ic += (int64_t)is * cs;
        isn += (int64_t)is * sn;
        c += cs;
        s += sn;
    }
    cv->c_x += sv;
    ci->c_x += si;
    cv->c_xx += vv;
    ci->c_xx += ii;
    MC_PR(m)[0].c_xy += vi;
    cv->c_xc += vc;
    cv->c_xs += vsn;
    ci->c_xc += ic;
    ci->c_xs += isn;
    m->c_c += c;
    m->c_s += s;
    *phase_io = phase;
}

/* The block loop shared by both entry points: f (frames) or v and i (1P2W). */
static int process(mc_meter_t *m, const int32_t *f, const int32_t *v, const int32_t *i, size_t n)
{
    int events = 0;
    size_t k = 0;
    if (m->acquiring && m->acquire_segments == 0u) {
        k = acquire_first(m, v, i, f, n);
    }
    uint32_t phase = m->phase;
    scan_state_t st;
    st.prev = m->prev_v;
    st.armed = m->armed;
    /* No crossing counts during the first acquisition segment: it sets the DC first. */
    st.zc_min = m->vmin_peak;
    uint32_t limit = m->cycle_timeout;
    /* The shortest-cycle rule counts from a crossing; a segment that began otherwise
     * (start-up, timeout) may end at its first crossing. */
    uint32_t cmin = m->zc_prev_idx != 0u ? m->cycle_min : 0u;
    unsigned ref = m->ref;
    while (k < n) {
        const size_t room = (size_t)(limit - m->c_n);
        const size_t stop = (n - k < room) ? n : k + room;
        st.dc = MC_CH(m)[ref].dc;
        st.hyst = m->hyst;
        st.peak = MC_CH(m)[ref].peak;
        int crossing = 0;
        float frac = 0.0f;
        const size_t soon = cmin > m->c_n ? k + (cmin - m->c_n) : k;
        size_t end;
        if (f != NULL) {
            end = scan_crossing(f + ref, m->n_ch, k, soon, stop, &st, &crossing, &frac);
            accumulate_frames(m, f, k, end, &phase);
        } else {
            end = scan_crossing(v, 1u, k, soon, stop, &st, &crossing, &frac);
            accumulate_pair(m, v, i, k, end, &phase);
        }
        m->c_n += (uint32_t)(end - k);
        MC_CH(m)[ref].peak = st.peak;
        k = end;

        if (!crossing && m->c_n < limit) {
            break; /* end of block inside the cycle */
        }
        int32_t dv;
        m->phase = phase;
        /* A crossing lies before sample `end`, which starts the new cycle; a
         * timeout closes after the last accumulated sample, which is the same index. */
        events |= mc_meter_close_cycle(m, m->sample_count + end, frac, crossing, &dv);
        phase = m->phase;
        limit = m->cycle_timeout;
        cmin = m->zc_prev_idx != 0u ? m->cycle_min : 0u;
        st.armed = 0;
        if (m->ref != ref) {
            ref = m->ref; /* another voltage gives the crossings now: no previous sample of it */
            st.prev = 0;
        } else {
            /* The sample at `end` is measured against the new DC; after a crossing it
             * must not count as crossing again, hence "below zero". */
            st.prev = crossing ? -1 : st.prev - dv;
        }
    }
    m->prev_v = st.prev;
    m->phase = phase;
    m->armed = (uint8_t)st.armed;
    m->sample_count += n;
    return events;
}

int mc_meter_process(mc_meter_t *m, const int32_t *v, const int32_t *i, size_t n)
{
    if (m == NULL || ((v == NULL || i == NULL) && n > 0) || m->n_ch != 2u || m->n_el != 1u) {
        return MC_ERR_INVAL;
    }
    return process(m, NULL, v, i, n);
}

int mc_meter_process_frames(mc_meter_t *m, const int32_t *frames, size_t n)
{
    if (m == NULL || (frames == NULL && n > 0)) {
        return MC_ERR_INVAL;
    }
    return process(m, frames, NULL, NULL, n);
}

