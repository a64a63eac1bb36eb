/*
 * The meter application the storage and schedule fuzz targets (and the storage
 * seed generator) run: a meter, a tariff, a data model whose hooks are a
 * simulated clock, a monotonic millisecond counter and the storage layer
 * (on_change, commit, on_auth, event log), and the storage on an emulated NVM
 * (tests/nvm_emu.h). The storage instance is the first member, so the app is
 * also the storage hooks' context, as in tests/test_storage.c.
 * SPDX-License-Identifier: MIT
 */
#ifndef METERCORE_TESTS_FUZZ_APP_H
#define METERCORE_TESTS_FUZZ_APP_H

#include <stddef.h>
#include <stdint.h>

#include "metercore/mc_calendar.h"
#include "metercore/mc_meter.h"
#include "metercore/mc_registers.h"
#include "metercore/mc_storage.h"
#include "metercore/mc_tariff.h"
#include "nvm_emu.h"

#ifdef __cplusplus
extern "C" {
#endif

/** fz_app_init() flags. */
enum {
    FZ_NO_COMMIT = 1u << 0,      /**< Leave the model's commit hook NULL (saved at the next poll). */
    FZ_NO_UNLOCK = 1u << 1,      /**< require_unlock 0 (bus writes without a password). */
    FZ_RELAY = 1u << 2,          /**< A product with relay and DI. */
};

/** First schedule register and one past the last (1100H..121FH). */
#define FZ_SCHED_FIRST 0x1100u
#define FZ_SCHED_END 0x1220u
#define FZ_SCHED_WORDS (FZ_SCHED_END - FZ_SCHED_FIRST)

typedef struct fz_app {
    mc_storage_t st; /* first: the hooks' context is the app and the storage instance */
    mc_meter_t meter;
    mc_tariff_t tariff;
    mc_model_t model;
    mc_storage_config_t scfg;
    nvm_emu_t *emu;
    mc_time_t now;    /* the simulated meter clock */
    uint32_t mono_ms; /* the monotonic clock */
} fz_app_t;

/** Abort with a message (a finding) unless cond holds. */
#define FZ_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fz_fail(#cond, __FILE__, __LINE__);                                                    \
        }                                                                                          \
    } while (0)

/** Print "check failed" with the condition and abort(). */
void fz_fail(const char *what, const char *file, int line);

/** A local time (aborts if the date is invalid). */
mc_time_t fz_time(unsigned y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s);

/**
 * Fresh instances at time @p now over @p emu, not mounted: KPM31 meter, default
 * tariff, model with default parameters (require_unlock 1 unless FZ_NO_UNLOCK),
 * storage configuration @p cfg (NULL: defaults) with the emulator's port.
 */
void fz_app_init(fz_app_t *a, nvm_emu_t *emu, mc_time_t now, const mc_storage_config_t *cfg, unsigned flags);

/** mc_storage_mount() of the app. */
int fz_app_mount(fz_app_t *a);

/** One synthetic window of @p dt seconds: the meter's registers grow by @p d, then mc_storage_window(). */
int fz_app_window(fz_app_t *a, const mc_energy_t *d, uint32_t dt);

/** Where a register address lies in the register map: its quantity and argument, or 0 if unmapped. */
int fz_reg_lookup(unsigned addr, mc_qty *qty, unsigned *arg, unsigned *format);

/**
 * Every schedule register 1100H..121FH as mc_model_read() gives it: words[k] for
 * address 1100H + k, mapped[k] 1 where the map has a register (else words[k] 0).
 */
void fz_schedule_words(const mc_model_t *md, uint16_t words[FZ_SCHED_WORDS], uint8_t mapped[FZ_SCHED_WORDS]);

/** A richer valid schedule than the default (4 day and week profiles, 4 seasons, special days). */
void fz_schedule_rich(mc_tariff_schedule_t *s);

/** Put the rich schedule in force through the model's trusted path (two writes, committed). */
void fz_write_rich_schedule(fz_app_t *a);

#ifdef __cplusplus
}
#endif

#endif /* METERCORE_TESTS_FUZZ_APP_H */
