/*
 * metersim: the meter application (meter, tariff, data model, storage) shared by run and dump.
 * SPDX-License-Identifier: MIT
 */
#ifndef METERSIM_APP_H
#define METERSIM_APP_H

#include "metercore/mc_meter.h"
#include "metercore/mc_registers.h"
#include "metercore/mc_storage.h"
#include "metercore/mc_tariff.h"
#include "load.h"

/* NVM geometry of the state file: 64 sectors of 4 KiB (256 KiB), 4-byte programming
 * unit, erased 0xFF, like a small SPI NOR flash. Storage then keeps 3 sectors of
 * history, 3 of config, the default event log and the rest as the energy ring. */
#define MS_NVM_SECTORS 64u
#define MS_NVM_SECTOR_SIZE 4096u
#define MS_NVM_PROG 4u
#define MS_SAMPLE_RATE 4000u
#define MS_U_FULL_SCALE 500.0 /* instantaneous volts at code 2^23 */
#define MS_U_FULL_SCALE_LL 1000.0 /* the same for line-to-line voltage channels (3p3w) */
#define MS_I_FULL_SCALE 100.0 /* instantaneous amps at code 2^23 */
#define MS_MAX_PENDING 8

typedef struct ms_app {
    mc_storage_t st;          /* first: the hooks' context is the app and also the storage */
    mc_meter_t meter;
    ms_meter_state_t meter_state; /* the meter's channel, pair and element state (not for 1p2w) */
    ms_wiring_t wiring;       /* the meter's wiring (run --wiring; 1p2w by default) */
    double u_full_scale;      /* instantaneous volts at code 2^23 of the voltage channels */
    mc_tariff_t tariff;
    mc_model_t model;
    mc_storage_config_t scfg;
    /* the simulated clock: base_time at sample base_sample, running with the samples */
    mc_time_t base_time;
    uint64_t base_sample;
    uint64_t samples;          /* samples fed since start */
    /* closed windows waiting to be booked */
    mc_reading_t pending[MS_MAX_PENDING];
    unsigned npending;
    uint64_t pulses;           /* pulses since start */
    int cal_switch;            /* the calibration switch (jumper under the seal) is set: --cal-switch */
} ms_app_t;

/* Options of ms_app_start(). */
#define MS_APP_CAL_SWITCH 1u /* the calibration switch is set for this run (--cal-switch) */
#define MS_APP_NEW_METER 2u  /* the user asked for a new meter (--new-state): storage may format */

/* Current simulated time. */
mc_time_t ms_app_now(const ms_app_t *a);
/* Build meter, tariff and model at time now, and mount storage on nvm. The model is secure by
 * default: every bus write needs the password (factory default 6666), sessions and lockouts
 * count CLOCK_MONOTONIC time, a write is acknowledged once storage has saved it and its event.
 * flags: MS_APP_*. 0 or a negative mc_err (MC_ERR_BLANK: not a meter of ours; MC_ERR_VERSION:
 * another storage format; nothing was written to the NVM then). */
int ms_app_start(ms_app_t *a, mc_time_t now, const mc_nvm_t *nvm, unsigned flags);
/* The same with a wiring (NULL: 1p2w, exactly ms_app_start()); the meter's state arrays are
 * the app's meter_state. */
int ms_app_start_wiring(ms_app_t *a, mc_time_t now, const mc_nvm_t *nvm, unsigned flags,
                        const ms_wiring_t *wiring);

/* CLOCK_MONOTONIC in ms (wrapping at 2^32), the model's monotonic clock. */
uint32_t ms_monotonic_ms(void);

/* Why a state file is refused, as one clause for "state file PATH <reason>": from its size
 * (size_ok 0: it has `size` bytes, not the geometry's) or the mount's error. */
void ms_state_reason(uint64_t size, int size_ok, int mount_err, char *buf, size_t len);

/* An NVM over a RAM copy of a state file: nothing is ever written back. */
typedef struct ms_ram_nvm {
    uint8_t *mem;
    uint32_t size;
} ms_ram_nvm_t;
/* Load a state file into RAM (its size must be the geometry above). 0 or -1 with err (one
 * line: a missing or unreadable file, a size that is not the geometry's, a run holding it). */
int ms_ram_nvm_load(ms_ram_nvm_t *r, const char *path, mc_nvm_t *nvm, char *err, size_t errlen);
void ms_ram_nvm_free(ms_ram_nvm_t *r);

#endif
