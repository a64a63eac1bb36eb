/**
 * @file mc_storage.h
 * @ingroup grp_storage
 * @brief Persistence: records that survive any power cut, an event log (audit
 *        trail) and integrity checks, on a littlefs-style NVM port.
 *
 * @section mc_storage_port The NVM port
 * ::mc_nvm_t describes the memory by its geometry and three callbacks, as
 * littlefs' block device does: read, program and erase of sectors. Flash
 * semantics are assumed (a byte is programmed once between erases; erased
 * bytes read as `erase_value`); EEPROM and FRAM satisfy them trivially
 * (erase may then just fill the sector). Callbacks return 0 or a negative
 * ::mc_err (::MC_ERR_IO). They are blocking.
 *
 * @section mc_storage_layout Layout and power-loss safety
 * The sectors are split into four areas, each a ring of equal slots:
 * - energy (the rest of the sectors): meter energy, tariff totals and this
 *   month, saved often;
 * - history (2 sectors, 3 from 16 sectors on): settlement history, the month's
 *   counters right after the last freeze, settlement bookkeeping;
 * - config (2 sectors, 3 from 16 on): parameters, calibration, tariff schedule and settings;
 * - events (2 sectors at least): the event log, one 24-byte slot per event.
 * A record is a 16-byte header (magic, kind, format version, length, sequence
 * number, CRC-32), its payload and, once the two are programmed and verified, a
 * commit marker in the slot's last programming unit: a slot that fails its CRC
 * without the marker is a save cut short (ignored), with it corruption
 * (reported). A save programs the next slot of the ring;
 * a sector is erased only when the ring enters it, and never while it holds
 * the newest valid copy, so the previous copy stays whole until the new one is
 * complete: a cut at ANY point leaves the previous or the new record, never a
 * mix (the CRC rejects a partial slot) and never nothing. After programming,
 * the slot is read back; a failure marks the sector bad (reported, and the
 * ring skips it until restart). At mount, each area's newest slot with a valid
 * header and CRC wins.
 *
 * Freezes are saved in an order that keeps history and energy consistent:
 * energy before the freeze, then history (with the month's counters after it),
 * then energy again; at mount, an energy record older than the history's
 * freeze takes its month from the history record.
 *
 * @section mc_storage_policy Save policy
 * Energy is saved when it has grown by `save_quantum_wh` since the last save
 * (default 10 Wh = 0.01 kWh, counted over all registers) or `save_period_s`
 * has passed (default 3600 s), at every freeze, and at once on
 * mc_storage_power_fail() (the port's power-fail warning). Config is saved when
 * a parameter changed (mc_storage_param_changed(), wired to the model's
 * on_change hook) at the next mc_storage_poll(). A cut without warning loses
 * at most one save quantum of energy.
 */
#ifndef METERCORE_MC_STORAGE_H
#define METERCORE_MC_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "metercore/mc_common.h"
#include "metercore/mc_meter.h"
#include "metercore/mc_registers.h"
#include "metercore/mc_tariff.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Storage format version, major: a different major is refused (::MC_ERR_VERSION). */
#define MC_STORAGE_FORMAT_MAJOR 1u
/** Storage format version, minor: an older minor of the same major is read and upgraded. */
#define MC_STORAGE_FORMAT_MINOR 0u

/** Size of one event log slot in bytes. */
#define MC_EVENT_SLOT_SIZE 24u

/** The NVM port: geometry and callbacks. */
typedef struct mc_nvm {
    /** Read @p size bytes at @p offset of @p sector into @p buf. */
    int (*read)(void *context, uint32_t sector, uint32_t offset, void *buf, uint32_t size);
    /** Program @p size bytes at @p offset of @p sector (erased before). Offsets and sizes are multiples of prog_size. */
    int (*prog)(void *context, uint32_t sector, uint32_t offset, const void *buf, uint32_t size);
    /** Erase @p sector: every byte reads erase_value afterwards. */
    int (*erase)(void *context, uint32_t sector);
    void *context;          /**< Passed to the callbacks. */
    uint32_t sector_size;   /**< Bytes per erasable sector, 1024..65536, a multiple of prog_size
                                 (an EEPROM port presents 1024-byte sectors and erases by filling). */
    uint32_t sector_count;  /**< Sectors available to metercore, up to 256: at least 6 plus the event sectors
                                 (with the default event capacity: 10 of 1 KiB, 9 of 2 KiB, 8 from 4 KiB);
                                 from 16 on, history and config get 3 sectors each instead of 2. */
    uint32_t prog_size;     /**< Programming unit in bytes: 1 (EEPROM, FRAM), 4, 8 or 16 (flash). */
    uint8_t erase_value;    /**< Value of an erased byte (0xFF for most flash). */
} mc_nvm_t;

/** Storage configuration. */
typedef struct mc_storage_config {
    mc_nvm_t nvm;                /**< The memory. */
    uint32_t save_quantum_wh;    /**< Energy growth that triggers a save, Wh (default 10). */
    uint32_t save_period_s;      /**< Time that triggers a save, s (default 3600; 0 = never by time). */
    uint32_t integrity_period_s; /**< Period of the RAM integrity checks, s (default 60). */
    uint8_t event_sectors;       /**< Sectors for the event log, >= 2 (0 = enough for 128 events plus the sector the ring erases when it wraps: at least 100 are always kept). */
    uint8_t audit_sectors;       /**< Sectors for the metrological audit log (calibration, seal, energy clear,
                                      clock set, tariff, pulse constant, format/firmware change), which ordinary
                                      events cannot push out (0 = derived from the geometry). */
    uint8_t new_meter;           /**< 1: the user asked for a new meter explicitly: a memory that holds no
                                      meter of ours but is not blank is formatted. 0 (default): such a memory
                                      is refused with ::MC_ERR_BLANK and left as it is; a blank memory is
                                      always a first start. */
} mc_storage_config_t;

/** Per-area ring state. Private. */
typedef struct mc_storage_area {
    uint16_t first_sector;   /**< First sector of the area. */
    uint16_t sectors;        /**< Sectors in the area. */
    uint16_t slot_size;      /**< Bytes per slot. */
    uint16_t slots_per_sector; /**< Slots in one sector. */
    uint32_t next_slot;      /**< Next slot to program (index over the area). */
    uint32_t newest_slot;    /**< Slot of the newest valid record, or UINT32_MAX. */
    uint32_t seq;            /**< Sequence number of the newest record. */
} mc_storage_area_t;

/** Storage instance. Caller-allocated; binds a meter, a tariff and a model. */
typedef struct mc_storage {
    mc_storage_config_t cfg;     /**< Configuration. */
    mc_meter_t *meter;           /**< The meter. */
    mc_tariff_t *tariff;         /**< The tariff. */
    mc_model_t *model;           /**< The data model (params, errors, clock hook). */
    mc_storage_area_t area[4];   /**< energy, history, config, events. */
    uint32_t bad[8];             /**< Bad-sector bitmap (256 sectors). */
    uint32_t gen;                /**< Freeze generation (number of freezes saved). */
    uint64_t saved_energy_q;     /**< Sum of all energy registers at the last save, quanta. */
    mc_time_t saved_at;          /**< Time of the last energy save. */
    mc_time_t last_check;        /**< Time of the last integrity check. */
    mc_time_t saved_settlement;  /**< The tariff's last settlement point as last saved. */
    mc_time_t saved_frozen_at;   /**< The newest history month's freeze time as last saved. */
    uint32_t params_crc;         /**< CRC of the parameters as saved. */
    uint8_t config_dirty;        /**< A parameter changed since the last config save. */
    uint8_t energy_dirty;        /**< Energy must be saved at the next poll (e.g. after a clear). */
    uint8_t history_dirty;       /**< History must be saved at the next poll (after a clear). */
    uint8_t mounted;             /**< mc_storage_mount() succeeded. */
} mc_storage_t;

/**
 * @brief Defaults: save every 10 Wh or hour, integrity check every minute, 2 event sectors.
 * @param cfg  receives them (the nvm member is zeroed: fill it in).
 */
void mc_storage_config_default(mc_storage_config_t *cfg);

/**
 * @brief Mount: load the newest valid copy of every record into the meter,
 *        tariff and model, or start a fresh memory.
 *
 * Records found: applied (energy into the meter and the tariff, history and
 * settlement, parameters, calibration, schedule). A corrupt newest copy is
 * skipped for the previous good one and reported (status error flag, event).
 * No record at all (new memory): the instances keep their current state, which
 * is saved. Logs ::MC_EV_POWER_UP.
 * @param st      the instance.
 * @param cfg     configuration (copied); the geometry is checked.
 * @param meter   the meter (initialised).
 * @param tariff  the tariff (initialised).
 * @param model   the model (initialised).
 * @return ::MC_OK; ::MC_ERR_INVAL (geometry, NULL); ::MC_ERR_VERSION (records of
 *         another major format: nothing is changed or erased); ::MC_ERR_IO.
 */
int mc_storage_mount(mc_storage_t *st, const mc_storage_config_t *cfg, mc_meter_t *meter,
                     mc_tariff_t *tariff, mc_model_t *model);

/**
 * @brief Book a closed window: tariff booking (mc_tariff_add) with the freeze
 *        save order, and the energy save policy.
 *
 * Call it for every window instead of calling mc_tariff_add() directly.
 * @param st       the instance.
 * @param now      local standard time of the window's close.
 * @param reading  the window.
 * @return the tariff's event bits (>= 0), or a negative mc_err.
 */
int mc_storage_window(mc_storage_t *st, mc_time_t now, const mc_reading_t *reading);

/**
 * @brief Main-loop work: save changed parameters, run the periodic integrity check.
 * @param st   the instance.
 * @param now  local standard time.
 * @return ::MC_OK or a negative mc_err of a failed save.
 */
int mc_storage_poll(mc_storage_t *st, mc_time_t now);

/**
 * @brief Power-fail warning: save energy now and log ::MC_EV_POWER_DOWN.
 * @param st   the instance.
 * @param now  local standard time.
 * @return ::MC_OK or a negative mc_err.
 */
int mc_storage_power_fail(mc_storage_t *st, mc_time_t now);

/**
 * @brief Log a parameter change and schedule the config save. Wire the model's
 *        on_change hook to this (same arguments).
 *
 * Energy clear, clock set, calibration and relay changes are logged with their
 * own event types; energy clear also saves energy at the next poll.
 * @param st      the instance (the hook's context).
 * @param qty     quantity.
 * @param arg     argument.
 * @param old_value  old value.
 * @param new_value  new value.
 * @param source  source.
 */
void mc_storage_param_changed(void *st, mc_qty qty, unsigned arg, uint32_t old_value, uint32_t new_value,
                              mc_source source);

/**
 * @brief Make the changes reported since the last commit durable: the records
 *        they touch and their events are saved before this returns. Wire the
 *        model's commit hook to this (the storage instance as ctx).
 * @param st  the instance (the hook's context).
 * @return ::MC_OK or a negative mc_err of a failed save.
 */
int mc_storage_commit(void *st);

/**
 * @brief Log a password event (::MC_EV_AUTH). Wire the model's on_auth hook to this.
 * @param st         the instance (the hook's context).
 * @param what       ::mc_auth_event.
 * @param iface      ::mc_iface.
 * @param count      wrong passwords on the interface since start-up (or tries refused).
 * @param lockout_s  lockout seconds, 0 for none.
 */
void mc_storage_auth_event(void *st, unsigned what, unsigned iface, uint32_t count, uint32_t lockout_s);

/**
 * @brief Log an event (timestamped with the model's clock).
 * @param st     the instance.
 * @param ev     the event (seq and time are filled in).
 * @return ::MC_OK or a negative mc_err.
 */
int mc_storage_log(mc_storage_t *st, const mc_event_t *ev);

/**
 * @brief Number of events in the log (at most what the event area holds).
 * @param st  the instance.
 * @return the count.
 */
unsigned mc_storage_event_count(const mc_storage_t *st);

/**
 * @brief Read an event: index 0 is the newest.
 * @param st     the instance.
 * @param index  0..count-1.
 * @param out    receives the event.
 * @return ::MC_OK, ::MC_ERR_NODATA past the end, ::MC_ERR_CORRUPT for a slot that fails its CRC.
 */
int mc_storage_event_read(const mc_storage_t *st, unsigned index, mc_event_t *out);

#ifdef __cplusplus
}
#endif

#endif /* METERCORE_MC_STORAGE_H */
