/*
 * metersim: the meter application shared by run and dump, and the RAM NVM of dump.
 * SPDX-License-Identifier: MIT
 */
#include "app.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "metersim.h"

mc_time_t ms_app_now(const ms_app_t *a)
{
    return a->base_time + (mc_time_t)((a->samples - a->base_sample) / MS_SAMPLE_RATE);
}

static mc_time_t hook_now(void *ctx)
{
    return ms_app_now(ctx);
}

static int hook_set_clock(void *ctx, mc_time_t t)
{
    ms_app_t *a = ctx;
    a->base_time = t;
    a->base_sample = a->samples;
    return MC_OK;
}

/* Every parameter change goes to the storage layer: event log and config save. */
static void hook_on_change(void *ctx, mc_qty qty, unsigned arg, uint32_t old_value, uint32_t new_value,
                           mc_source source)
{
    ms_app_t *a = ctx;
    mc_storage_param_changed(&a->st, qty, arg, old_value, new_value, source);
}

static int hook_relay(void *ctx, int close)
{
    (void)ctx;
    (void)close; /* the load follows mc_model_relay() from the next simulated second */
    return MC_OK;
}

static int hook_di(void *ctx)
{
    /* a simple contact: closed for 10 minutes, open for 10 */
    return (int)((ms_app_now(ctx) / 600u) & 1u);
}

uint32_t ms_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* Sessions, lockouts and the write budget count real time, never the simulated clock (which
 * runs 600 times faster, or is set by a client). */
static uint32_t hook_monotonic_ms(void *ctx)
{
    (void)ctx;
    return ms_monotonic_ms();
}

/* The calibration switch: a jumper under the sealed cover, set for the whole run with --cal-switch. */
static int hook_cal_switch(void *ctx)
{
    return ((const ms_app_t *)ctx)->cal_switch;
}

/* Acknowledged means saved: the change and its event are in the state file before the reply. */
static int hook_commit(void *ctx)
{
    return mc_storage_commit(&((ms_app_t *)ctx)->st);
}

/* Wrong passwords and lockouts go to the event log (MC_EV_AUTH), never the tried value. */
static void hook_on_auth(void *ctx, unsigned what, unsigned iface, uint32_t count, uint32_t lockout_s)
{
    mc_storage_auth_event(&((ms_app_t *)ctx)->st, what, iface, count, lockout_s);
}

static int hook_audit_counter(void *ctx, unsigned which, uint32_t *out)
{
    return mc_storage_audit_counter(&((ms_app_t *)ctx)->st, which, out);
}

static unsigned hook_event_count(void *ctx)
{
    return mc_storage_event_count(&((ms_app_t *)ctx)->st);
}

static int hook_event_read(void *ctx, unsigned index, mc_event_t *out)
{
    return mc_storage_event_read(&((ms_app_t *)ctx)->st, index, out);
}

static void on_window(void *ctx, const mc_reading_t *r)
{
    ms_app_t *a = ctx;
    if (a->npending < MS_MAX_PENDING) {
        a->pending[a->npending++] = *r;
    }
}

static void on_pulse(void *ctx, const mc_pulse_t *p)
{
    (void)p;
    ((ms_app_t *)ctx)->pulses++;
}

int ms_app_start(ms_app_t *a, mc_time_t now, const mc_nvm_t *nvm, unsigned flags)
{
    return ms_app_start_wiring(a, now, nvm, flags, NULL);
}

int ms_app_start_wiring(ms_app_t *a, mc_time_t now, const mc_nvm_t *nvm, unsigned flags,
                        const ms_wiring_t *wiring)
{
    memset(a, 0, sizeof(*a));
    a->base_time = now;
    a->cal_switch = (flags & MS_APP_CAL_SWITCH) != 0u;
    if (wiring != NULL) {
        a->wiring = *wiring;
    } else {
        ms_wiring_default(&a->wiring);
    }
    /* line-to-line voltage channels (3p3w: 400 V, 566 V peak) need a wider range */
    a->u_full_scale = a->wiring.wiring == MC_WIRING_3P3W ? MS_U_FULL_SCALE_LL : MS_U_FULL_SCALE;
    mc_meter_config_t mc;
    mc_meter_config_default(&mc);
    mc.sample_rate_hz = MS_SAMPLE_RATE;
    mc.u_scale = (float)(a->u_full_scale / 8388608.0);
    mc.i_scale = (float)(MS_I_FULL_SCALE / 8388608.0);
    mc.un = 230.0f;
    mc.in = 5.0f;
    mc.imax = 60.0f;
    mc.on_window = on_window;
    mc.on_pulse = on_pulse;
    mc.context = a;
    ms_wiring_config(&a->wiring, &mc, &a->meter_state);
    int err = mc_meter_init(&a->meter, &mc);
    if (err != MC_OK) {
        return err;
    }
    mc_tariff_config_t tc;
    mc_tariff_config_default(&tc);
    err = mc_tariff_init(&a->tariff, &tc, now);
    if (err != MC_OK) {
        return err;
    }
    mc_model_config_t mdc;
    mc_model_config_default(&mdc);
    mdc.features = MC_FEAT_RELAY | MC_FEAT_DI; /* a KPM31BK */
    mdc.require_unlock = 1;  /* secure by default: no bus write without the password (6666 new) */
    mdc.unlock_seconds = 300;
    mc_model_hooks_t hooks;
    memset(&hooks, 0, sizeof(hooks));
    hooks.on_change = hook_on_change;
    hooks.relay = hook_relay;
    hooks.di = hook_di;
    hooks.now = hook_now;
    hooks.set_clock = hook_set_clock;
    hooks.event_count = hook_event_count;
    hooks.event_read = hook_event_read;
    hooks.monotonic_ms = hook_monotonic_ms;
    hooks.cal_switch = hook_cal_switch;
    hooks.commit = hook_commit;
    hooks.on_auth = hook_on_auth;
    hooks.audit_counter = hook_audit_counter;
    hooks.ctx = a;
    err = mc_model_init(&a->model, &mdc, &hooks, &a->meter, &a->tariff, NULL);
    if (err != MC_OK) {
        return err;
    }
    /* a latching relay keeps its contact; the simulated one starts closed */
    a->model.relay_closed = 1;
    mc_storage_config_default(&a->scfg);
    a->scfg.nvm = *nvm;
    a->scfg.new_meter = (flags & MS_APP_NEW_METER) != 0u;
    return mc_storage_mount(&a->st, &a->scfg, &a->meter, &a->tariff, &a->model);
}

void ms_state_reason(uint64_t size, int size_ok, int mount_err, char *buf, size_t len)
{
    const unsigned long want = (unsigned long)MS_NVM_SECTORS * MS_NVM_SECTOR_SIZE;
    if (!size_ok && size == 0u) {
        snprintf(buf, len, "is empty (0 bytes): not a metersim state");
    } else if (!size_ok) {
        snprintf(buf, len, "has %llu bytes, not %lu: not a metersim state", (unsigned long long)size, want);
    } else if (mount_err == MC_ERR_BLANK) {
        snprintf(buf, len, "holds no metersim meter (foreign or damaged: no valid energy, history or "
                           "configuration record)");
    } else if (mount_err == MC_ERR_VERSION) {
        snprintf(buf, len, "was written in another storage format (another metercore version)");
    } else {
        snprintf(buf, len, "cannot be mounted (%s)", mc_strerror(mount_err));
    }
}

static int ram_read(void *ctx, uint32_t sector, uint32_t off, void *buf, uint32_t size)
{
    ms_ram_nvm_t *r = ctx;
    const uint64_t at = (uint64_t)sector * MS_NVM_SECTOR_SIZE + off;
    if (at + size > r->size) {
        return MC_ERR_IO;
    }
    memcpy(buf, r->mem + at, size);
    return MC_OK;
}

static int ram_prog(void *ctx, uint32_t sector, uint32_t off, const void *buf, uint32_t size)
{
    ms_ram_nvm_t *r = ctx;
    const uint64_t at = (uint64_t)sector * MS_NVM_SECTOR_SIZE + off;
    if (at + size > r->size) {
        return MC_ERR_IO;
    }
    const uint8_t *b = buf;
    for (uint32_t k = 0; k < size; k++) {
        r->mem[at + k] &= b[k];
    }
    return MC_OK;
}

static int ram_erase(void *ctx, uint32_t sector)
{
    ms_ram_nvm_t *r = ctx;
    if ((uint64_t)(sector + 1u) * MS_NVM_SECTOR_SIZE > r->size) {
        return MC_ERR_IO;
    }
    memset(r->mem + (size_t)sector * MS_NVM_SECTOR_SIZE, 0xFF, MS_NVM_SECTOR_SIZE);
    return MC_OK;
}

int ms_ram_nvm_load(ms_ram_nvm_t *r, const char *path, mc_nvm_t *nvm, char *err, size_t errlen)
{
    const uint32_t size = MS_NVM_SECTORS * MS_NVM_SECTOR_SIZE;
    memset(r, 0, sizeof(*r));
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    /* Not while a metersim run writes it (it holds the exclusive lock). */
    if (ms_state_lock(fileno(f), 0, path, err, errlen) != 0) {
        fclose(f);
        return -1;
    }
    r->mem = malloc(size + 1u);
    if (r->mem == NULL) {
        fclose(f);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    const size_t got = fread(r->mem, 1, size + 1u, f);
    const int bad = ferror(f);
    fclose(f);
    if (bad || got != size) {
        free(r->mem);
        r->mem = NULL;
        if (bad) {
            snprintf(err, errlen, "state file %s cannot be read", path);
        } else {
            char why[160];
            struct stat sb;
            ms_state_reason(stat(path, &sb) == 0 ? (uint64_t)sb.st_size : (uint64_t)got, 0, 0, why, sizeof(why));
            snprintf(err, errlen, "state file %s %s; refused and left as it is", path, why);
        }
        return -1;
    }
    r->size = size;
    memset(nvm, 0, sizeof(*nvm));
    nvm->read = ram_read;
    nvm->prog = ram_prog;
    nvm->erase = ram_erase;
    nvm->context = r;
    nvm->sector_size = MS_NVM_SECTOR_SIZE;
    nvm->sector_count = MS_NVM_SECTORS;
    nvm->prog_size = MS_NVM_PROG;
    nvm->erase_value = 0xFF;
    return 0;
}

void ms_ram_nvm_free(ms_ram_nvm_t *r)
{
    free(r->mem);
    r->mem = NULL;
}
