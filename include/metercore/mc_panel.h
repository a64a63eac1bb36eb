/**
 * @file mc_panel.h
 * @ingroup grp_panel
 * @brief Front panel: the meter's display pages, two keys, password and settings menu.
 *
 * A portable state machine (KPM31 manual, section 5) over a data model
 * (::mc_model_t). It owns no hardware: the port feeds it key edges and time,
 * both as milliseconds of a free-running counter (wrap-around is handled), and
 * implements a small display interface (::mc_panel_port_t) that receives whole
 * screens of up to ::MC_PANEL_LINES lines of ::MC_PANEL_COLS characters plus a
 * mask of the characters that flash, so that a segment LCD, a character LCD
 * and a terminal can all render it (blinking is left to the renderer).
 *
 * Keys: K1 "select/next" and K2 "modify". A press shorter than
 * ::MC_PANEL_LONG_MS is short and acts on release; a press of one key held for
 * ::MC_PANEL_LONG_MS is long and acts at that moment (detected by
 * mc_panel_tick() or by the next mc_panel_key()); pressing both keys together
 * returns at once to the first measurement page, without saving.
 *
 * | where            | K1 short         | K2 short          | long press (K1 or K2)        |
 * |------------------|------------------|-------------------|------------------------------|
 * | measurement      | next page        | previous page     | password screen (or LOCKED)  |
 * | password         | next digit       | digit + 1         | check: menu, or back to password |
 * | menu             | next item        | previous item     | edit the item (it flashes)   |
 * | edit, digits     | next digit       | digit + 1 (in range) | save                      |
 * | edit, choice     | previous choice  | next choice       | save (YES: clear / reset)    |
 * | LOCKED           | measurement      | measurement       | -                            |
 *
 * Every value shown is read with mc_model_read() and every change is written
 * with mc_model_write(..., ::MC_SRC_PANEL), so it is validated, reported to the
 * model's on_change hook (saved and logged by the persistence layer) exactly as
 * a Modbus write. The one exception is the password itself, which the model
 * never reads back: the panel compares with (and starts a password change
 * from) mc_model_t::params directly.
 *
 * After ::MC_PANEL_LOCK_TRIES wrong passwords in a row the settings are locked
 * for ::MC_PANEL_LOCK_MS (a power cycle ends the lockout: it is not persisted);
 * the port's event() callback is told (::MC_PANEL_EV_LOCKOUT) so that the
 * firmware can log it. ::MC_PANEL_TIMEOUT_MS without a key in the settings
 * returns to the measurement pages, dropping the value being edited.
 *
 * No allocation, no globals: the caller owns the ::mc_panel_t.
 */
#ifndef METERCORE_MC_PANEL_H
#define METERCORE_MC_PANEL_H

#include <stdint.h>

#include "metercore/mc_common.h"
#include "metercore/mc_registers.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MC_PANEL_LINES 3u            /**< Text lines of a screen. */
#define MC_PANEL_COLS 16u            /**< Characters per line at most. */
#define MC_PANEL_LONG_MS 3000u       /**< A press held this long is a long press. */
#define MC_PANEL_TIMEOUT_MS 30000u   /**< Settings without a key for this long return to measurement. */
#define MC_PANEL_LOCK_TRIES 3u       /**< Wrong passwords in a row that lock the settings. */
#define MC_PANEL_LOCK_MS 300000u     /**< How long the settings stay locked (5 minutes). */

/** Key bits of the mask passed to mc_panel_key(). */
enum mc_panel_key {
    MC_PANEL_K1 = 1u, /**< K1, "select / next". */
    MC_PANEL_K2 = 2u  /**< K2, "modify". */
};

/** What the panel shows (mc_panel_screen_t::mode). */
typedef enum mc_panel_mode {
    MC_PANEL_MEASURE = 0, /**< Measurement pages (mc_panel_screen_t::page is a ::mc_panel_page). */
    MC_PANEL_PASSWORD,    /**< Password entry. */
    MC_PANEL_MENU,        /**< Settings menu, item shown (page is a ::mc_panel_item). */
    MC_PANEL_EDIT,        /**< An item's value being edited, flashing (page is a ::mc_panel_item). */
    MC_PANEL_LOCKED       /**< Settings locked after wrong passwords, time left shown. */
} mc_panel_mode;

/** Measurement pages, in the order K1 steps through them. */
typedef enum mc_panel_page {
    MC_PANEL_PAGE_UIF = 0,      /**< "U: 220.3V" / "I: 005.0A" / "F: 50 Hz" (manual's Real-1). */
    MC_PANEL_PAGE_PQS,          /**< Active, reactive, apparent power (kW, kvar, kVA). */
    MC_PANEL_PAGE_PF,           /**< Power factor and the frequency to 0.01 Hz. */
    MC_PANEL_PAGE_E_ACTIVE,     /**< Active energy import / export, kWh. */
    MC_PANEL_PAGE_E_REACTIVE,   /**< Reactive energy import / export, kvarh. */
    MC_PANEL_PAGE_RATE1,        /**< Combined active and reactive energy of rate 1; rates 2..4 follow. */
    MC_PANEL_PAGE_MONTH0 = MC_PANEL_PAGE_RATE1 + 4, /**< Combined energy of this month; months -1..-12 follow. */
    MC_PANEL_PAGE_CLOCK = MC_PANEL_PAGE_MONTH0 + 13, /**< Date, time and the rate in force. */
    MC_PANEL_PAGE_DEMAND,       /**< Active and apparent demand, maximum active demand this month. */
    MC_PANEL_PAGE_IO,           /**< Relay and DI state ("NONE" where the product has none). */
    MC_PANEL_PAGE_SW,           /**< Software version, register map, code checksum, serial number. */
    MC_PANEL_PAGE_COUNT         /**< Number of pages. */
} mc_panel_page;

/** Page of rate @p r (1..4). */
#define MC_PANEL_PAGE_RATE(r) (MC_PANEL_PAGE_RATE1 + (r) - 1)
/** Page of month @p m ago (0 = this month, 1..12 = settlement months -1..-12). */
#define MC_PANEL_PAGE_MONTH(m) (MC_PANEL_PAGE_MONTH0 + (m))

/** Settings menu items, in order. */
typedef enum mc_panel_item {
    MC_PANEL_ITEM_PASSWORD = 0, /**< "PASS": new password, 4 digits 0000..9999. */
    MC_PANEL_ITEM_ADDRESS,      /**< "Adr": Modbus address, 3 digits 001..247. */
    MC_PANEL_ITEM_BAUD,         /**< "baud": 1200 / 2400 / 4800 / 9600. */
    MC_PANEL_ITEM_PARITY,       /**< "PrtY": NONE / EVEN / ODD. */
    MC_PANEL_ITEM_CLEAR,        /**< "CLr.E": energy clear, NO / YES (YES + long press clears). */
    MC_PANEL_ITEM_WIFI,         /**< "RSTW": Wi-Fi module reset, NO / YES; only with a wifi_reset callback. */
    MC_PANEL_ITEM_COUNT         /**< Number of items. */
} mc_panel_item;

/** One screen: what the display should show now. */
typedef struct mc_panel_screen {
    char text[MC_PANEL_LINES][MC_PANEL_COLS + 1u]; /**< Lines, NUL-terminated, 0..16 characters, left-aligned. */
    uint16_t flash[MC_PANEL_LINES]; /**< Bit c set: character c of the line flashes. */
    uint8_t mode;                   /**< ::mc_panel_mode. */
    uint8_t page;                   /**< ::mc_panel_page, or ::mc_panel_item in MENU and EDIT. */
} mc_panel_screen_t;

/** Events the panel reports to the port (mc_panel_port_t::event). */
typedef enum mc_panel_event {
    MC_PANEL_EV_WRONG_PASSWORD = 1, /**< A wrong password was confirmed. */
    MC_PANEL_EV_LOCKOUT = 2,        /**< ::MC_PANEL_LOCK_TRIES wrong passwords: settings locked. */
    MC_PANEL_EV_LOCKOUT_END = 3     /**< The lockout time is over. */
} mc_panel_event;

/**
 * The display and port interface: callbacks with a context, each optional (NULL).
 * They are called from inside mc_panel_key() and mc_panel_tick().
 */
typedef struct mc_panel_port {
    /** Show a screen. Called whenever the screen changes (never twice with the same one,
     *  except after mc_panel_refresh()); @p s is valid only during the call. */
    void (*show)(void *ctx, const mc_panel_screen_t *s);
    /** Something worth logging happened (::mc_panel_event), e.g. to the storage layer's event log. */
    void (*event)(void *ctx, mc_panel_event type);
    /** Reset the Wi-Fi module (menu item RSTW = YES). 0, or a negative mc_err if it failed.
     *  Without it the RSTW item is not in the menu. */
    int (*wifi_reset)(void *ctx);
    void *ctx; /**< Passed to every callback. */
} mc_panel_port_t;

/**
 * The panel instance. Caller-allocated; every field is private to the panel
 * (read the screen with mc_panel_screen()).
 */
typedef struct mc_panel {
    mc_model_t *md;            /**< The model (not owned). */
    mc_panel_port_t port;      /**< Port callbacks. */
    mc_panel_screen_t screen;  /**< Screen last shown. */
    uint32_t last_key_ms;      /**< Time of the last key edge. */
    uint32_t press_ms;         /**< When the current press began. */
    uint32_t lock_until_ms;    /**< End of the lockout (locked != 0). */
    uint32_t now_ms;           /**< Latest time seen. */
    uint16_t value;            /**< Value being entered or edited. */
    uint8_t mode;              /**< ::mc_panel_mode. */
    uint8_t page;              /**< Measurement page. */
    uint8_t item;              /**< Menu item. */
    uint8_t digit;             /**< Digit being edited, 0 = leftmost. */
    uint8_t down;              /**< Keys down now. */
    uint8_t press_keys;        /**< Keys of the current press. */
    uint8_t chord;             /**< Both keys were down in this press: ignore it until all are up. */
    uint8_t long_done;         /**< The current press already acted as a long press. */
    uint8_t wrong;             /**< Wrong passwords in a row. */
    uint8_t locked;            /**< Settings locked. */
    uint8_t msg;               /**< Message on the last line (internal code). */
    uint8_t shown;             /**< A screen has been shown. */
} mc_panel_t;

/**
 * @brief Start a panel on the first measurement page and show it.
 * @param p       the instance.
 * @param md      the model whose values it shows and edits (required, kept).
 * @param port    the callbacks (copied), may be NULL.
 * @param now_ms  current time, ms.
 * @return ::MC_OK or ::MC_ERR_INVAL.
 */
int mc_panel_init(mc_panel_t *p, mc_model_t *md, const mc_panel_port_t *port, uint32_t now_ms);

/**
 * @brief Report the keys now down (call on every press or release edge).
 *
 * A short press acts on its release, a long press after ::MC_PANEL_LONG_MS of
 * holding (checked here as well as in mc_panel_tick()), both keys at once at
 * the moment the second key goes down. Repeating the same mask is harmless.
 * @param p         the panel.
 * @param key_mask  ::mc_panel_key bits of the keys down (0..3).
 * @param now_ms    current time, ms.
 * @return ::MC_OK or ::MC_ERR_INVAL.
 */
int mc_panel_key(mc_panel_t *p, unsigned key_mask, uint32_t now_ms);

/**
 * @brief Let time pass: long presses, the settings timeout, the lockout end, and
 *        measurement values refreshed (shown only if the screen changed).
 *
 * Call it periodically, e.g. every 100 ms or with every new measurement.
 * @param p       the panel.
 * @param now_ms  current time, ms.
 * @return ::MC_OK or ::MC_ERR_INVAL.
 */
int mc_panel_tick(mc_panel_t *p, uint32_t now_ms);

/**
 * @brief Render the current screen again and show it even if unchanged (e.g. after a display reset).
 * @param p  the panel.
 * @return ::MC_OK or ::MC_ERR_INVAL.
 */
int mc_panel_refresh(mc_panel_t *p);

/**
 * @brief The screen last shown.
 * @param p  the panel.
 * @return the screen (inside @p p), or NULL if @p p is NULL.
 */
const mc_panel_screen_t *mc_panel_screen(const mc_panel_t *p);

/**
 * @brief The event-log record of a panel event, the same for every firmware:
 *        type ::MC_EV_PANEL, source ::MC_SRC_PANEL, arg = @p type, old value =
 *        ::MC_PANEL_LOCK_TRIES, new value = ::MC_PANEL_LOCK_MS in seconds (seq and
 *        time are left 0 for mc_storage_log() to fill in).
 * @param type  ::MC_PANEL_EV_LOCKOUT or ::MC_PANEL_EV_LOCKOUT_END (a wrong password alone
 *              is not logged).
 * @param out   receives the record.
 * @return ::MC_OK, or ::MC_ERR_INVAL for NULL or an event that is not logged.
 */
int mc_panel_event_record(mc_panel_event type, mc_event_t *out);

#ifdef __cplusplus
}
#endif

#endif /* METERCORE_MC_PANEL_H */
