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
 * The sectors are split into five areas, each a ring of equal slots:
 * - energy (the rest of the sectors): meter energy, tariff totals, this month,
 *   this month's maximum demand and the running demand window, and for a meter of
 *   several elements (phases, circuits) each element's own energy registers; saved often;
 * - history (2 sectors, 3 from 16 sectors on): settlement history, the month's
 *   counters right after the last freeze, settlement bookkeeping;
 * - config (2 sectors, 3 from 16 on): parameters, calibration (for a meter of several
 *   elements the per-channel calibration too), seal, tariff schedule and settings, the
 *   relay state, the last code checksum seen;
 * - events (2 sectors at least): the ordinary event log, one slot per event;
 * - audit (2 sectors at least): the metrological audit log (calibration, seal,
 *   energy clear, clock set, tariff and settlement changes, pulse constant,
 *   format or firmware change), which ordinary events never push out.
 * On a memory too small for five areas of two sectors (sectors of 2 KiB or more,
 * e.g. 8 of 4 KiB or of 64 KiB) history and config are one "state" record in one area.
 * History, config and state records also carry the audit counters (never reset)
 * and a journal of up to ::MC_STORAGE_JOURNAL events (see the save policy).
 * A record is a 16-byte header (magic, kind, format version, length, sequence
 * number, CRC-32), its payload and, once the two are programmed and verified, a
 * commit marker in the slot's last programming unit: a slot that fails its CRC
 * without the marker is a save cut short (ignored), with it corruption
 * (reported). An event slot is the 24-byte event (with its own CRC) and the
 * same marker. The slots of the energy and config areas are as long as the meter's records
 * (which depend on its number of elements); a memory written under another wiring holds
 * records of other lengths, and the mount scans those areas at every slot size a record of
 * ours can have, so that the newest record of any size wins. A save programs the next slot of the ring;
 * a sector is erased only when the ring enters it, and never while it holds
 * the newest valid copy, so the previous copy stays whole until the new one is
 * complete: a cut at ANY point leaves the previous or the new record, never a
 * mix (the CRC rejects a partial slot) and never nothing. After programming,
 * the slot is read back; a failure marks the sector bad (reported once per
 * area and mount, and the ring skips it until restart). At mount, each area's
 * newest slot with a valid header and CRC and sane values wins: every value is
 * range-checked as a bus write would be (parameters, calibration, schedule,
 * seal, settlement, times, energy counters up to ::MC_STORAGE_QUANTA_MAX); a
 * record that fails is treated as corrupt (the newest sane older copy is used,
 * every older copy being tried, the error flag set and ::MC_EV_INTEGRITY logged;
 * with no sane copy the area starts from its defaults, flagged the same way). A
 * restored settlement point after every time the memory has seen (clock, record
 * and event times, the times clock sets came from) is a forgery: it goes back to
 * the newest point by those times, flagged.
 *
 * Freezes are saved in an order that keeps history and energy consistent:
 * energy before the freeze, then history (with the month's counters after it),
 * then energy again; at mount, an energy record older than the history's
 * freeze takes its month from the history record.
 *
 * @section mc_storage_mount_rules What a mount accepts
 * - every core area (energy, history, config) holds a valid record of this
 *   format: the meter is restored;
 * - the memory is blank (every byte erased): a first start, the memory is
 *   formatted (and ::MC_EV_FORMAT logged);
 * - records of another major format: ::MC_ERR_VERSION, nothing changed;
 * - records of an older minor (format 2.0, without the elements' registers and the
 *   per-channel calibration, under a meter of several elements): restored, the elements'
 *   registers and the per-channel calibration keep the meter's (zero and unity after
 *   mc_meter_init()), ::MC_EV_FORMAT (arg 0, old 2.0, new 2.1) is logged and the energy and
 *   config are saved in the new layout at once. Likewise an energy record of another
 *   number of elements (the wiring changed) restores the totals and not the elements, and
 *   a per-channel calibration stored under another frame layout (wiring, channels,
 *   elements), or found by a single-element meter, is not put in force (a channel number
 *   means another signal there): if it differs from the one in force, its replacement is
 *   logged as ::MC_EV_CALIBRATION (qty ::MC_QTY_CAL_CH_GAIN, arg ::MC_POLY_CAL_ARG, old and
 *   new the CRC of the stored calibration and of the one in force), counted, and saved with
 *   the config record;
 * - a core area with records of ours (valid CRC) of which none is sane: restored
 *   with that area's defaults, the error flag and ::MC_EV_INTEGRITY;
 * - anything else (a foreign image, a core area without a valid record, e.g.
 *   blank core areas beside an intact event log): ::MC_ERR_BLANK, nothing is
 *   written and the instances are untouched, unless cfg.new_meter asks for a new
 *   meter: then the whole memory is erased and formatted. A first start cut short
 *   by a power loss (only first records, no events yet) is completed.
 *
 * @section mc_storage_policy Save policy
 * Energy is saved when it has grown by `save_quantum_wh` since the last save
 * (default 10 Wh = 0.01 kWh, counted over all registers) or `save_period_s`
 * has passed (default 3600 s), at every freeze, and at once on
 * mc_storage_power_fail() (the port's power-fail warning). A cut without
 * warning loses at most one save quantum of energy (and the demand of that time).
 *
 * Changes (parameters, calibration, seal, schedule, settlement, energy clear,
 * clock set, relay) are reported by the model to mc_storage_param_changed(),
 * which queues their events in RAM; the model's commit hook, mc_storage_commit(),
 * then saves the records they touch with the events in the record's journal
 * (history first: energy clear, freeze; then config: parameters, calibration,
 * seal, schedule, settlement, relay; events without a record of their own ride along),
 * and only then appends the events to their logs. At mount, journal entries of the
 * newest records that are not in the logs yet are appended. So the log and the
 * data agree after a cut at any point: before the record is complete neither
 * the change nor its event survives (and the write was not acknowledged), after
 * it both do. Without a commit hook (older products) events are logged at once
 * and the records saved at the next mc_storage_poll(), as before.
 *
 * Both logs share one sequence number: mc_storage_event_count() and
 * mc_storage_event_read() show them merged, newest first (this is what the
 * event registers show); mc_storage_audit_count() and mc_storage_audit_read()
 * the audit log alone.
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
#define MC_STORAGE_FORMAT_MAJOR 2u
/** Storage format version, minor: an older minor of the same major is read and upgraded.
 *  1: the energy record of a meter of several elements carries each element's registers
 *  (mc_meter_phase_energy()), its config (or state) record the per-channel calibration in force
 *  (mc_meter_get_poly_calibration(), put in force again at mount). Each record's header gives the
 *  minor of its own layout, so a single-element (1P2W) meter writes exactly the records of 2.0. */
#define MC_STORAGE_FORMAT_MINOR 1u

/** Size of one event as stored, bytes (a slot adds the commit marker, rounded to programming units). */
#define MC_EVENT_SLOT_SIZE 24u

/** Events a record's journal holds (one commit); mc_storage_param_changed() queues one fewer. */
#define MC_STORAGE_JOURNAL 16u

/** Largest energy counter accepted from storage, quanta: every value a register can hold, which rolls
 *  over at ::MC_ENERGY_QUANTA_MODULO (2^63 quanta = 8.6 GWh, primary). It was 2^61 (2.1 GWh): a CT-fed
 *  meter (primary values) passed it in weeks and the mount then took its records for forged. */
#define MC_STORAGE_QUANTA_MAX (MC_ENERGY_QUANTA_MODULO - 1u)

/** The audit counters (mc_storage_audit_counter()): events counted since the memory was formatted, never reset. */
typedef enum mc_audit_counter {
    MC_AUDIT_CALIBRATION = 0, /**< Calibration field changes (::MC_EV_CALIBRATION, qty ::MC_QTY_CAL and the
                                   per-channel ::MC_QTY_CAL_CH_GAIN .. ::MC_QTY_CAL_EL_Q_OFFSET). */
    MC_AUDIT_SEAL = 1,        /**< Seal changes (::MC_EV_CALIBRATION, qty ::MC_QTY_SEAL). */
    MC_AUDIT_ENERGY_CLEAR = 2, /**< Energy clears (::MC_EV_ENERGY_CLEAR). */
    MC_AUDIT_CLOCK_SET = 3,   /**< Clock sets (::MC_EV_CLOCK_SET). */
    MC_AUDIT_TARIFF = 4,      /**< Schedule and settlement day/hour changes (::MC_EV_PARAM, qty ::MC_QTY_TOU_COUNTS..
                                   ::MC_QTY_TOU_SPECIAL, ::MC_QTY_SETTLE_DAY, ::MC_QTY_SETTLE_HOUR). */
    MC_AUDIT_PULSE_CONSTANT = 5, /**< Pulse constant changes (::MC_EV_PARAM, qty ::MC_QTY_PULSE_CONSTANT). */
    MC_AUDIT_FORMAT = 6,      /**< Storage format and code checksum changes (::MC_EV_FORMAT). */
    MC_AUDIT_ALL = 7,         /**< Every event of the audit log (DL/T645's demand and event clears, ::MC_EV_PARAM
                                   with ::MC_QTY_MAX_DEMAND_P or ::MC_QTY_EVENT_COUNT, counted here only). */
    MC_AUDIT_COUNTERS = 8     /**< Number of counters. */
} mc_audit_counter;

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
    uint32_t sector_count;  /**< Sectors available to metercore, up to 256. With the default configuration at
                                 least 13 of 1 KiB, 9 of 2 KiB, 8 from 4 KiB (with sectors of 2 KiB or more, when five
                                 areas of two sectors do not fit, history and config share one area); from 16 on, history and config get 3 sectors each.
                                 A meter of n > 1 elements adds 8 + 48 n bytes to the energy record (3P4W 152,
                                 16 circuits 776) and 304 to the config (state) record (its per-channel
                                 calibration): with sectors of 1 KiB at most 10 elements (mc_storage_mount()
                                 refuses more with ::MC_ERR_INVAL); a meter of 11..16 elements needs sectors of
                                 2 KiB or more. */
    uint32_t prog_size;     /**< Programming unit in bytes: 1 (EEPROM, FRAM), 4, 8 or 16 (flash). */
    uint8_t erase_value;    /**< Value of an erased byte (0xFF for most flash). */
} mc_nvm_t;

/** Storage configuration. */
typedef struct mc_storage_config {
    mc_nvm_t nvm;                /**< The memory. */
    uint32_t save_quantum_wh;    /**< Energy growth that triggers a save, Wh (default 10). */
    uint32_t save_period_s;      /**< Time that triggers a save, s (default 3600; 0 = never by time). */
    uint32_t integrity_period_s; /**< Period of the RAM integrity checks, s (default 60). */
    uint8_t event_sectors;       /**< Sectors for the ordinary event log, >= 2 (0 = enough for 128 events plus the
                                      sector the ring erases when it wraps: at least 100 are always kept). */
    uint8_t audit_sectors;       /**< Sectors for the metrological audit log (calibration, seal, energy clear,
                                      clock set, tariff, pulse constant, format/firmware change), which ordinary
                                      events cannot push out, >= 2. 0 = derived: enough for 512 events plus the
                                      sector the ring erases, but at most half of the sectors left after the other
                                      areas, at least 2 (64 x 4 KiB: 5 sectors, 584..730 events; 64 x 1 KiB: 16,
                                      540..576; 16 x 1 KiB: 2, 36..72). */
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

/** One event of a journal or of the commit queue (the event without sequence and time). Private. */
typedef struct mc_storage_jentry {
    uint8_t type;       /**< ::mc_event_type. */
    uint8_t source;     /**< ::mc_source. */
    uint8_t qty;        /**< Quantity. */
    uint8_t arg;        /**< Argument. */
    uint32_t old_value; /**< Old value. */
    uint32_t new_value; /**< New value. */
} mc_storage_jentry_t;

/** The last event read through mc_storage_event_read() (or mc_storage_audit_read()). Private. */
typedef struct mc_storage_evcache {
    uint32_t appends;   /**< The instance's append count when it was read (a newer event moves every index). */
    uint32_t index;     /**< Its index. */
    int32_t rc;         /**< What the read returned (::MC_OK or ::MC_ERR_CORRUPT). */
    uint8_t valid;      /**< 1: the fields hold a read. */
    uint8_t audit_only; /**< 1: an index of the audit log alone. */
    uint8_t area;       /**< The area of its slot (a hit reads the slot again: one read, so damage shows). */
    uint32_t slot;      /**< Its slot. */
    mc_event_t ev;      /**< The event (rc ::MC_OK). */
} mc_storage_evcache_t;

/** Storage instance. Caller-allocated; binds a meter, a tariff and a model. Fields private. */
typedef struct mc_storage {
    mc_storage_config_t cfg;     /**< Configuration. */
    mc_meter_t *meter;           /**< The meter. */
    mc_tariff_t *tariff;         /**< The tariff. */
    mc_model_t *model;           /**< The data model (params, errors, clock hook). */
    mc_storage_area_t area[5];   /**< energy, history, config, events, audit. */
    uint32_t bad[8];             /**< Bad-sector bitmap (256 sectors). */
    uint32_t gen;                /**< Freeze generation (number of freezes saved). */
    uint32_t gen_flags;          /**< Flags of the generation (it began with an energy clear). */
    uint32_t seq;                /**< Last event sequence number given (both logs share it). */
    uint32_t counters[MC_AUDIT_COUNTERS]; /**< Audit counters (::mc_audit_counter). */
    uint32_t code_checksum;      /**< Code checksum as last saved. */
    uint64_t saved_energy_q;     /**< Sum of all energy registers at the last save, quanta. */
    mc_time_t saved_at;          /**< Time of the last energy save. */
    mc_time_t last_check;        /**< Time of the last integrity check. */
    mc_time_t saved_settlement;  /**< The tariff's last settlement point as last saved. */
    mc_time_t saved_frozen_at;   /**< The newest history month's freeze time as last saved. */
    uint32_t params_crc;         /**< CRC of the parameters as saved. */
    mc_storage_jentry_t queue[MC_STORAGE_JOURNAL - 1u]; /**< Events reported, waiting for the commit. */
    uint8_t queued;              /**< Events in the queue. */
    uint8_t config_dirty;        /**< A parameter changed since the last config save. */
    uint8_t energy_dirty;        /**< Energy must be saved at the next poll (e.g. after a clear). */
    uint8_t history_dirty;       /**< History must be saved at the next poll (after a clear). */
    uint8_t mounted;             /**< mc_storage_mount() succeeded. */
    uint8_t combined;            /**< History and config share one record (small memories). */
    uint8_t failed;              /**< Areas (bits) with a failure not reported yet. */
    uint8_t reported;            /**< Areas (bits) whose failure was reported since the mount. */
    uint16_t failed_sector[5];   /**< The first failing sector of each area. */
    uint32_t log_count[2];       /**< Entries (valid and damaged) of the event log and of the audit log, as the
                                      readers walk them: counted at mount, kept on every append. */
    uint32_t appends;            /**< Events appended since the mount (the read cache's key). */
    mc_storage_evcache_t cache;  /**< The last event read (the 12 event registers of one event cost one walk). */
    /** Set by the mount to &cache: the readers take a const instance, yet keep their cache through this
     *  pointer without a cast (the instance itself is never a const object: the mount writes it). A copy
     *  of the instance (this pointer then elsewhere) reads without the cache. */
    mc_storage_evcache_t *cache_rw;
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
 * Records found: applied (energy into the meter and the tariff with this
 * month's maximum demand and the demand window, history and settlement,
 * parameters, calibration, seal, schedule; for a meter of several elements each
 * element's registers and the per-channel calibration, mc_meter_set_poly_calibration()).
 * A corrupt or insane newest copy is skipped for the newest good one and reported (status error flag,
 * ::MC_EV_INTEGRITY). Journal entries not in the logs yet are appended. A blank
 * memory: the instances keep their current state, which is saved (first start,
 * ::MC_EV_FORMAT). See @ref mc_storage_mount_rules. A code checksum
 * (hooks.code_checksum) other than the one saved logs ::MC_EV_FORMAT (arg 1).
 * Logs ::MC_EV_POWER_UP.
 * @param st      the instance.
 * @param cfg     configuration (copied); the geometry is checked.
 * @param meter   the meter (initialised).
 * @param tariff  the tariff (initialised).
 * @param model   the model (initialised).
 * @return ::MC_OK; ::MC_ERR_INVAL (geometry, NULL); ::MC_ERR_VERSION (records of
 *         another major format: nothing is changed or erased); ::MC_ERR_BLANK (not
 *         blank, yet no meter of ours, and cfg.new_meter is 0: nothing is changed
 *         or erased); ::MC_ERR_IO; ::MC_ERR_NOSPACE.
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
 * @brief Main-loop work: save what is pending (changes not committed, freezes made
 *        by a clock set, parameters), run the periodic integrity check.
 * @param st   the instance.
 * @param now  local standard time.
 * @return ::MC_OK or a negative mc_err of a failed save.
 */
int mc_storage_poll(mc_storage_t *st, mc_time_t now);

/**
 * @brief Power-fail warning: save energy (with the demand state) now, then anything
 *        pending, and log ::MC_EV_POWER_DOWN.
 * @param st   the instance.
 * @param now  local standard time.
 * @return ::MC_OK or a negative mc_err.
 */
int mc_storage_power_fail(mc_storage_t *st, mc_time_t now);

/**
 * @brief Report a change: its event is queued for mc_storage_commit(). Wire the
 *        model's on_change hook to this (same arguments).
 *
 * Energy clear, clock set, calibration (and seal) and relay changes get their own
 * event types, every other change ::MC_EV_PARAM. Metrological ones go to the
 * audit log (see ::mc_audit_counter). Without a commit hook in the model (hooks.commit NULL), or with the queue full
 * (::MC_STORAGE_JOURNAL - 1 events), the event is logged at once and the records
 * are saved at the next mc_storage_poll() (or commit).
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
 *
 * Order: for an energy clear or a freeze (a clock set can make one) the
 * history record with the journal of its events, the events appended to their
 * logs, and the energy record; then the config record (parameters, calibration,
 * seal, schedule, settlement) with its journal, its events appended. A clock set
 * is carried by the config record (or the history record of its freeze), so
 * that its audit counter is saved with it. A cut at any point leaves data and
 * log agreeing (see @ref mc_storage_policy). On an error the events not yet
 * durable stay queued, and the next commit or poll tries again.
 * @param st  the instance (the hook's context).
 * @return ::MC_OK or a negative mc_err of a failed save (::MC_ERR_INVAL if not mounted).
 */
int mc_storage_commit(void *st);

/**
 * @brief Log a password event (::MC_EV_AUTH). Wire the model's on_auth hook to this.
 * @param st         the instance (the hook's context).
 * @param what       ::mc_auth_event.
 * @param iface      ::mc_iface.
 * @param count      the interface's consecutive wrong-password count after this try (the guard's
 *                   count: it decays by one per day without a wrong try); the event's old value.
 * @param lockout_s  lockout seconds, 0 for none; the event's new value.
 */
void mc_storage_auth_event(void *st, unsigned what, unsigned iface, uint32_t count, uint32_t lockout_s);

/**
 * @brief An interface's wrong-password count as it stood before the restart, from the log, so
 *        that a power cycle gives an attacker no fresh tries (feed it to mc_auth_guard_restore()).
 *
 * The newest ::MC_EV_AUTH event (qty ::MC_AUTH_WRONG or ::MC_AUTH_LOCKOUT) with arg @p iface in the
 * ordinary event log (walked newest first, at most once over: up to one read per slot, two per
 * blank one; call it once per interface after the mount): its old value (the count after that
 * try) minus one per whole day (86400 s) between its time and the model's clock now, at least 0.
 * A damaged event is passed over. If the event has been pushed out of the log (over 100 newer
 * ordinary events), the count is lost: ::MC_ERR_NODATA, as for an interface never tried.
 * @param st     the instance (mounted).
 * @param iface  ::mc_iface (0..255, as the event's arg).
 * @param wrong  receives the count.
 * @return ::MC_OK; ::MC_ERR_NODATA (no such event); ::MC_ERR_INVAL (NULL, not mounted, @p iface above 255).
 */
int mc_storage_auth_restore(const mc_storage_t *st, unsigned iface, uint32_t *wrong);

/**
 * @brief Log an event at once (timestamped with the model's clock), into the audit
 *        log if it is a metrological one (see ::mc_audit_counter), else the event log.
 * @param st     the instance.
 * @param ev     the event (seq and time are filled in).
 * @return ::MC_OK or a negative mc_err.
 */
int mc_storage_log(mc_storage_t *st, const mc_event_t *ev);

/**
 * @brief Number of events in both logs (the event log and the audit log, merged).
 *
 * No read: counted at mount, kept on every append (counted again when a wrap erases a sector).
 * @param st  the instance.
 * @return the count (a damaged event counts).
 */
unsigned mc_storage_event_count(const mc_storage_t *st);

/**
 * @brief Read an event of both logs merged by sequence number: index 0 is the newest.
 *
 * What the event registers (1301H selector, 1302H..130DH) show. Cost: an index
 * past the end, none (the logs' counts are kept in the instance); else about
 * index + 2 slot reads, but the last event read is cached (with the append count
 * it was read at): reading the same index again, as the 12 event registers of one
 * selected event do, costs one read of its slot (to see damage). The cache lives
 * in the instance (reached through a pointer the mount sets, so the instance stays
 * const here); a new event invalidates it.
 * @param st     the instance.
 * @param index  0..count-1.
 * @param out    receives the event.
 * @return ::MC_OK, ::MC_ERR_NODATA past the end, ::MC_ERR_CORRUPT for a slot that
 *         was complete (commit marker) and fails its CRC now (counted at its place in its log).
 */
int mc_storage_event_read(const mc_storage_t *st, unsigned index, mc_event_t *out);

/**
 * @brief Number of events in the audit log alone.
 * @param st  the instance.
 * @return the count.
 */
unsigned mc_storage_audit_count(const mc_storage_t *st);

/**
 * @brief Read an event of the audit log alone: index 0 is the newest.
 * @param st     the instance.
 * @param index  0..count-1.
 * @param out    receives the event.
 * @return as mc_storage_event_read().
 */
int mc_storage_audit_read(const mc_storage_t *st, unsigned index, mc_event_t *out);

/**
 * @brief An audit counter: events of a kind since the memory was formatted (never reset,
 *        saved with the records that carry the events, so it agrees with the log).
 * @param st     the instance.
 * @param which  ::mc_audit_counter.
 * @param out    receives the count.
 * @return ::MC_OK, ::MC_ERR_INVAL (NULL, not mounted, @p which out of range).
 */
int mc_storage_audit_counter(const mc_storage_t *st, unsigned which, uint32_t *out);

#ifdef __cplusplus
}
#endif

#endif /* METERCORE_MC_STORAGE_H */
