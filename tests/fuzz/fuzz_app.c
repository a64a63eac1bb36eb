/*
 * The meter application of the storage and schedule fuzz targets. See fuzz_app.h.
 * SPDX-License-Identifier: MIT
 */
#include "fuzz_app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fz_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
    abort();
}

mc_time_t fz_time(unsigned y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s)
{
    mc_datetime_t dt;
    memset(&dt, 0, sizeof(dt));
    dt.year = (uint16_t)y;
    dt.month = (uint8_t)mo;
    dt.day = (uint8_t)d;
    dt.hour = (uint8_t)h;
    dt.minute = (uint8_t)mi;
    dt.second = (uint8_t)s;
    mc_time_t t = 0;
    FZ_CHECK(mc_time_from_datetime(&dt, &t) == MC_OK);
    return t;
}

static mc_time_t app_now(void *ctx)
{
    return ((fz_app_t *)ctx)->now;
}

static int app_set_clock(void *ctx, mc_time_t t)
{
    ((fz_app_t *)ctx)->now = t;
    return MC_OK;
}

static uint32_t app_mono(void *ctx)
{
    return ((fz_app_t *)ctx)->mono_ms;
}

static unsigned app_event_count(void *ctx)
{
    return mc_storage_event_count(&((fz_app_t *)ctx)->st);
}

static int app_event_read(void *ctx, unsigned index, mc_event_t *out)
{
    return mc_storage_event_read(&((fz_app_t *)ctx)->st, index, out);
}

static int app_audit_counter(void *ctx, unsigned which, uint32_t *out)
{
    return mc_storage_audit_counter(&((fz_app_t *)ctx)->st, which, out);
}

static uint32_t app_checksum(void *ctx)
{
    (void)ctx;
    return 0x0BADC0DEu;
}

void fz_app_init(fz_app_t *a, nvm_emu_t *emu, mc_time_t now, const mc_storage_config_t *cfg, unsigned flags)
{
    memset(a, 0, sizeof(*a));
    a->emu = emu;
    a->now = now;
    a->mono_ms = 1000u;
    mc_meter_config_t mcfg;
    mc_meter_config_default(&mcfg);
    mcfg.u_scale = 400.0f / 8388608.0f;
    mcfg.i_scale = 100.0f / 8388608.0f;
    FZ_CHECK(mc_meter_init(&a->meter, &mcfg) == MC_OK);
    mc_tariff_config_t tcfg;
    mc_tariff_config_default(&tcfg);
    FZ_CHECK(mc_tariff_init(&a->tariff, &tcfg, now) == MC_OK);
    mc_model_config_t mdc;
    mc_model_config_default(&mdc);
    if (flags & FZ_NO_UNLOCK) {
        mdc.require_unlock = 0;
    }
    if (flags & FZ_RELAY) {
        mdc.features = MC_FEAT_RELAY | MC_FEAT_DI;
    }
    mc_model_hooks_t hooks;
    memset(&hooks, 0, sizeof(hooks));
    hooks.on_change = mc_storage_param_changed;
    hooks.now = app_now;
    hooks.set_clock = app_set_clock;
    hooks.code_checksum = app_checksum;
    hooks.event_count = app_event_count;
    hooks.event_read = app_event_read;
    hooks.monotonic_ms = app_mono;
    hooks.commit = (flags & FZ_NO_COMMIT) ? NULL : mc_storage_commit;
    hooks.on_auth = mc_storage_auth_event;
    hooks.audit_counter = app_audit_counter;
    hooks.ctx = a;
    FZ_CHECK(mc_model_init(&a->model, &mdc, &hooks, &a->meter, &a->tariff, NULL) == MC_OK);
    if (cfg != NULL) {
        a->scfg = *cfg;
    } else {
        mc_storage_config_default(&a->scfg);
    }
    nvm_emu_port(emu, &a->scfg.nvm);
}

int fz_app_mount(fz_app_t *a)
{
    return mc_storage_mount(&a->st, &a->scfg, &a->meter, &a->tariff, &a->model);
}

int fz_app_window(fz_app_t *a, const mc_energy_t *d, uint32_t dt)
{
    mc_energy_t e;
    FZ_CHECK(mc_meter_energy(&a->meter, &e) == MC_OK);
    for (int k = 0; k < MC_E_COUNT; k++) {
        e.q[k] += d->q[k];
    }
    FZ_CHECK(mc_meter_set_energy(&a->meter, &e) == MC_OK);
    a->now += dt;
    a->mono_ms += dt * 1000u;
    mc_reading_t r;
    memset(&r, 0, sizeof(r));
    r.delta = *d;
    const double wh = ((double)d->q[MC_E_ACTIVE_IMPORT] - (double)d->q[MC_E_ACTIVE_EXPORT]) /
                      (double)MC_ENERGY_QUANTA_PER_WH;
    r.p = (float)(wh * 3600.0 / (dt != 0u ? (double)dt : 1.0));
    r.s = r.p < 0.0f ? -r.p * 1.1f : r.p * 1.1f;
    r.urms = 230.0f;
    r.irms = r.s / 230.0f;
    r.pf = r.s > 0.0f ? r.p / r.s : 1.0f;
    r.freq = 50.0f;
    r.duration_s = (float)dt;
    return mc_storage_window(&a->st, a->now, &r);
}

int fz_reg_lookup(unsigned addr, mc_qty *qty, unsigned *arg, unsigned *format)
{
    size_t n = 0;
    const mc_reg_entry_t *t = mc_regmap_table(&n);
    for (size_t i = 0; i < n; i++) {
        const unsigned width = t[i].format == MC_FMT_F32 ? 2u : 1u;
        if (addr >= t[i].addr && addr < (unsigned)t[i].addr + (unsigned)t[i].count * width) {
            const unsigned k = (addr - t[i].addr) / width;
            *qty = (mc_qty)t[i].qty;
            *arg = (unsigned)t[i].arg + k * t[i].arg_step;
            *format = t[i].format;
            return 1;
        }
    }
    return 0;
}

void fz_schedule_words(const mc_model_t *md, uint16_t words[FZ_SCHED_WORDS], uint8_t mapped[FZ_SCHED_WORDS])
{
    /* The map of the schedule registers, looked up once. */
    static int ready;
    static uint8_t is_mapped[FZ_SCHED_WORDS], qtys[FZ_SCHED_WORDS], args[FZ_SCHED_WORDS];
    if (!ready) {
        for (unsigned k = 0; k < FZ_SCHED_WORDS; k++) {
            mc_qty qty;
            unsigned arg, format;
            is_mapped[k] = (uint8_t)fz_reg_lookup(FZ_SCHED_FIRST + k, &qty, &arg, &format);
            FZ_CHECK(!is_mapped[k] || (format == MC_FMT_U16 && arg <= 255u));
            qtys[k] = is_mapped[k] ? (uint8_t)qty : 0u;
            args[k] = is_mapped[k] ? (uint8_t)arg : 0u;
        }
        ready = 1;
    }
    for (unsigned k = 0; k < FZ_SCHED_WORDS; k++) {
        words[k] = 0;
        mapped[k] = is_mapped[k];
        if (!is_mapped[k]) {
            continue;
        }
        mc_value_t v;
        FZ_CHECK(mc_model_read(md, (mc_qty)qtys[k], args[k], &v) == MC_OK);
        FZ_CHECK(!v.is_float);
        words[k] = v.u;
    }
}

void fz_schedule_rich(mc_tariff_schedule_t *s)
{
    mc_tariff_schedule_default(s);
    s->day_profile_count = 4;
    s->week_profile_count = 4;
    s->season_count = 4;
    s->special_day_count = 3;
    for (unsigned p = 0; p < 4u; p++) {
        mc_tariff_day_profile_t *d = &s->day_profiles[p];
        d->count = (uint8_t)(2u + 2u * p);
        for (unsigned k = 0; k < d->count; k++) {
            d->seg[k].hour = (uint8_t)(k * 24u / d->count);
            d->seg[k].minute = (uint8_t)(k * 7u % 60u);
            d->seg[k].rate = (uint8_t)(1u + (k + p) % 4u);
        }
    }
    for (unsigned w = 0; w < 4u; w++) {
        for (unsigned d = 0; d < 7u; d++) {
            s->week_profiles[w][d] = (uint8_t)((w + d) % 4u);
        }
    }
    static const uint8_t season_start[4][2] = {{1, 1}, {3, 21}, {6, 21}, {9, 23}};
    for (unsigned z = 0; z < 4u; z++) {
        s->seasons[z].month = season_start[z][0];
        s->seasons[z].day = season_start[z][1];
        s->seasons[z].week = (uint8_t)z;
    }
    s->special_days[0] = (mc_tariff_special_day_t){0, 1, 1, 3};
    s->special_days[1] = (mc_tariff_special_day_t){2024, 5, 1, 2};
    s->special_days[2] = (mc_tariff_special_day_t){0, 12, 25, 3};
    FZ_CHECK(mc_tariff_schedule_check(s) == MC_OK);
}

void fz_write_rich_schedule(fz_app_t *a)
{
    /* The words of the rich schedule, as a model over it reads them. */
    static mc_tariff_t t;
    static mc_meter_t m;
    static mc_model_t md;
    mc_meter_config_t mcfg;
    mc_meter_config_default(&mcfg);
    mcfg.u_scale = 400.0f / 8388608.0f;
    mcfg.i_scale = 100.0f / 8388608.0f;
    FZ_CHECK(mc_meter_init(&m, &mcfg) == MC_OK);
    mc_tariff_config_t tcfg;
    mc_tariff_config_default(&tcfg);
    FZ_CHECK(mc_tariff_init(&t, &tcfg, a->now) == MC_OK);
    mc_tariff_schedule_t s;
    fz_schedule_rich(&s);
    FZ_CHECK(mc_tariff_set_schedule(&t, &s) == MC_OK);
    mc_model_config_t cfg;
    mc_model_config_default(&cfg);
    FZ_CHECK(mc_model_init(&md, &cfg, NULL, &m, &t, NULL) == MC_OK);
    uint16_t words[FZ_SCHED_WORDS];
    uint8_t mapped[FZ_SCHED_WORDS];
    fz_schedule_words(&md, words, mapped);
    /* Two trusted writes (at most 125 items each): the special days apart. */
    mc_write_item_t it[125];
    for (int pass = 0; pass < 2; pass++) {
        size_t n = 0;
        for (unsigned k = 0; k < FZ_SCHED_WORDS; k++) {
            mc_qty qty;
            unsigned arg, format;
            if (!mapped[k] || !fz_reg_lookup(FZ_SCHED_FIRST + k, &qty, &arg, &format)) {
                continue;
            }
            const int special = qty == MC_QTY_TOU_SPECIAL || (qty == MC_QTY_TOU_COUNTS && arg == 3u);
            if (special != pass) {
                continue;
            }
            FZ_CHECK(n < 125u);
            memset(&it[n], 0, sizeof(it[n]));
            it[n].qty = (uint8_t)qty;
            it[n].arg = (uint8_t)arg;
            it[n].u = words[k];
            n++;
        }
        FZ_CHECK(mc_model_write(&a->model, it, n, MC_SRC_LOCAL) == MC_OK);
    }
    uint16_t now_words[FZ_SCHED_WORDS];
    fz_schedule_words(&a->model, now_words, mapped);
    FZ_CHECK(memcmp(now_words, words, sizeof(words)) == 0);
}
