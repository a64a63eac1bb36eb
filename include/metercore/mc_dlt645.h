/**
 * @file mc_dlt645.h
 * @ingroup grp_registers
 * @brief DL/T 645-2007 slave over the data model: a transport-independent frame handler
 *        and a byte framer (bytes with timestamps in, reply frames out), as mc_modbus.h
 *        does for Modbus.
 *
 * Layers:
 * - mc_dlt645_handle_frame(): one complete frame in (68H .. 16H, checksum verified),
 *   the reply frame out (or nothing). Serves control codes 08H (broadcast time), 11H
 *   (read, single identifiers and FF blocks), 12H (read follow-up), 13H (read address),
 *   14H (write), 15H (write address), 16H (freeze), 17H (change baud), 18H (change
 *   password), 19H (maximum demand clear), 1AH (meter clear) and 1BH (event clear).
 * - ::mc_dlt645_t as a framer: feed every received byte with a microsecond timestamp
 *   (mc_dlt645_rx_byte()) and call mc_dlt645_poll() from the main loop. The framer finds
 *   frames by their structure (up to 4 FEH, 68H, address, 68H, C, L, data, CS, 16H),
 *   drops garbage between frames, frames with a bad checksum, a bad end byte, L over
 *   ::MC_DLT645_DATA_MAX, and partial frames after an inter-byte timeout.
 *
 * Access (docs/DLT645.md, docs/SECURITY.md): reading is public. Every command that changes
 * something goes through the data model's sessions, levels, guard and budgets
 * (mc_model_write_session()) on the line's own session and guard (::MC_IFACE_DLT645): 14H,
 * 18H, 19H, 1AH and 1BH carry the password (level byte PA 00H..04H, three BCD bytes that
 * must read as the meter's password 0..9999); 15H, 16H and 17H carry none and need a
 * session opened by one of those within the model's unlock time. 08H (broadcast time, no
 * password in the standard) only corrects the clock by at most cfg.bcast_time_max_s, at
 * most once per ::MC_DLT645_BCAST_INTERVAL_S, logged as a clock set.
 */
#ifndef METERCORE_MC_DLT645_H
#define METERCORE_MC_DLT645_H

#include <stddef.h>
#include <stdint.h>

#include "metercore/mc_common.h"
#include "metercore/mc_registers.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Largest data field (L) the slave accepts or sends (DL/T 645-2007 4.1: L <= 200 for reads). */
#define MC_DLT645_DATA_MAX 200u
/** Frame without preamble: 68H, 6 address bytes, 68H, C, L, data, CS, 16H. */
#define MC_DLT645_FRAME_MAX (12u + MC_DLT645_DATA_MAX)
/** FEH wake-up bytes sent before every reply (4.1: up to four before a frame). */
#define MC_DLT645_PREAMBLE 4u
/** Largest reply on the wire: preamble and frame. */
#define MC_DLT645_REPLY_MAX (MC_DLT645_PREAMBLE + MC_DLT645_FRAME_MAX)
/** Default inter-byte timeout inside a frame, ms (a partial frame older than this is dropped). */
#define MC_DLT645_BYTE_TIMEOUT_MS_DEFAULT 500u
/** Longest inter-byte timeout, ms (a longer cfg.byte_timeout_ms is taken as this). */
#define MC_DLT645_BYTE_TIMEOUT_MS_MAX 60000u
/** Default largest correction a broadcast time (08H) may make, s. */
#define MC_DLT645_BCAST_MAX_S_DEFAULT 300u
/** At most one broadcast time correction per this many seconds (monotonic clock). */
#define MC_DLT645_BCAST_INTERVAL_S 86400u

/** Control codes (function bits D4..D0 of C, DL/T 645-2007 4.3). */
enum mc_dlt645_code {
    MC_DLT645_BCAST_TIME = 0x08,  /**< Broadcast time, no reply. */
    MC_DLT645_READ = 0x11,        /**< Read data. */
    MC_DLT645_READ_NEXT = 0x12,   /**< Read follow-up data. */
    MC_DLT645_READ_ADDR = 0x13,   /**< Read address (wildcard AA..AA). */
    MC_DLT645_WRITE = 0x14,       /**< Write data (password, operator code). */
    MC_DLT645_WRITE_ADDR = 0x15,  /**< Write address (wildcard AA..AA). */
    MC_DLT645_FREEZE = 0x16,      /**< Freeze command. */
    MC_DLT645_BAUD = 0x17,        /**< Change the line's baud rate. */
    MC_DLT645_PASSWORD = 0x18,    /**< Change password. */
    MC_DLT645_DEMAND_CLEAR = 0x19, /**< Maximum demand clear. */
    MC_DLT645_METER_CLEAR = 0x1A, /**< Meter clear (energy, history, maximum demand). */
    MC_DLT645_EVENT_CLEAR = 0x1B  /**< Event clear. */
};

/** Bits of the error information word (ERR) of an error reply (DL/T 645-2007 appendix C). */
enum mc_dlt645_err {
    MC_DLT645_ERR_OTHER = 0x01,    /**< Other error. */
    MC_DLT645_ERR_NO_DATA = 0x02,  /**< No requested data. */
    MC_DLT645_ERR_PASSWORD = 0x04, /**< Wrong password / not authorised. */
    MC_DLT645_ERR_BAUD = 0x08      /**< Baud rate cannot be changed. */
};

/**
 * Port of the DL/T645 line. `send` transmits a reply (preamble included; blocking or
 * queued; the buffer is reused after the call); `line` changes the baud rate after the
 * reply to a 17H went out at the old one; `address_changed` is told a new address
 * (15H) so that the product can keep it. Every member may be NULL.
 */
typedef struct mc_dlt645_port {
    int (*send)(void *ctx, const uint8_t *frame, size_t len); /**< Transmit a reply. */
    void (*line)(void *ctx, uint32_t baud);                    /**< Apply a new baud rate (8E1 stays). */
    void (*address_changed)(void *ctx, const uint8_t address[6]); /**< Keep a new address (wire order). */
    void *ctx;                                                 /**< Passed to all three. */
} mc_dlt645_port_t;

/** Configuration of a DL/T645 slave. */
typedef struct mc_dlt645_config {
    uint8_t address[6];       /**< Address as on the wire: BCD, lowest byte first (000000000001 is
                                   01 00 00 00 00 00). */
    uint32_t baud;            /**< Baud rate in force: 1200, 2400 (default), 4800 or 9600. */
    uint32_t byte_timeout_ms; /**< Inter-byte timeout, ms (0: ::MC_DLT645_BYTE_TIMEOUT_MS_DEFAULT; at most
                                   ::MC_DLT645_BYTE_TIMEOUT_MS_MAX). */
    uint16_t bcast_time_max_s; /**< Largest correction by broadcast time; 0: 08H is ignored. */
} mc_dlt645_config_t;

/** Statistics, for diagnostics. */
typedef struct mc_dlt645_stats {
    uint32_t frames;      /**< Frames for us (or broadcast) handled. */
    uint32_t replies;     /**< Replies sent. */
    uint32_t bad_frames;  /**< Frames dropped: checksum, end byte, L over the limit. */
    uint32_t timeouts;    /**< Partial frames dropped after the inter-byte timeout. */
    uint32_t garbage;     /**< Bytes between frames that were neither FEH nor a frame start. */
    uint32_t foreign;     /**< Frames for another address, or replies of other slaves. */
    uint32_t overruns;    /**< Bytes dropped because a frame was waiting to be polled. */
} mc_dlt645_stats_t;

/** A DL/T645 slave (frame handler state and framer). Caller-allocated; fields private. */
typedef struct mc_dlt645 {
    mc_model_t *model;          /**< The data model served. */
    mc_dlt645_port_t port;      /**< Port. */
    mc_dlt645_config_t cfg;     /**< Configuration (address and baud change at run time). */
    uint8_t buf[MC_DLT645_FRAME_MAX]; /**< Frame being received. */
    uint16_t len;               /**< Bytes in buf. */
    uint8_t ready;              /**< buf holds a complete frame to serve. */
    uint8_t next_baud_pending;  /**< A baud change waits for the reply to go out. */
    uint32_t next_baud;         /**< The baud rate it will set. */
    uint32_t last_us;           /**< Timestamp of the last byte of the frame under way. */
    uint32_t follow_di;         /**< Data identifier of a block being read in parts (0: none). */
    uint16_t follow_item;       /**< Next item of it. */
    uint8_t follow_seq;         /**< Sequence number the next 12H must carry. */
    uint8_t follow_active;      /**< A follow-up is pending. */
    uint8_t bcast_done;         /**< A broadcast time was applied (bcast_at_ms valid). */
    uint32_t bcast_at_ms;       /**< Monotonic time of the last broadcast time applied. */
    uint8_t last_operator[4];   /**< Operator code of the last change made on this line (wire order). */
    mc_dlt645_stats_t stats;    /**< Statistics. */
    mc_auth_guard_t guard;      /**< Brute-force guard of this line (::MC_IFACE_DLT645). */
    mc_session_t session;       /**< The master's session (one master per line). */
} mc_dlt645_t;

/**
 * @brief Default configuration: address 000000000001, 2400 baud, 500 ms inter-byte timeout,
 *        broadcast time corrects by at most ::MC_DLT645_BCAST_MAX_S_DEFAULT seconds.
 * @param cfg  receives it.
 */
void mc_dlt645_config_default(mc_dlt645_config_t *cfg);

/**
 * @brief Parse a 12-digit address ("000000000001") into wire order.
 * @param text  12 decimal digits, most significant first.
 * @param out   receives the 6 BCD bytes, lowest first.
 * @return ::MC_OK, or ::MC_ERR_INVAL (NULL, not 12 digits, or all nines: that is broadcast).
 */
int mc_dlt645_parse_address(const char *text, uint8_t out[6]);

/**
 * @brief Start a slave over a model.
 * @param d      the instance.
 * @param model  the data model.
 * @param cfg    configuration (copied), or NULL for mc_dlt645_config_default().
 * @param port   the port (copied), or NULL (no replies).
 * @return ::MC_OK or ::MC_ERR_INVAL (NULL model, a bad address or baud rate).
 */
int mc_dlt645_init(mc_dlt645_t *d, mc_model_t *model, const mc_dlt645_config_t *cfg,
                   const mc_dlt645_port_t *port);

/**
 * @brief Serve one complete frame (transport-independent: a TCP gateway's frame, or the framer's).
 *
 * The frame starts at its first 68H (no preamble) and must be whole: structure, L within
 * ::MC_DLT645_DATA_MAX, checksum and 16H are checked, and a frame that fails, is for
 * another address, or is itself a reply (D7 set) gets no reply and changes nothing.
 * @param d        the slave.
 * @param frame    the frame, @p len bytes.
 * @param len      12 .. ::MC_DLT645_FRAME_MAX.
 * @param reply    buffer of at least ::MC_DLT645_REPLY_MAX bytes (not @p frame).
 * @return the reply length (preamble included), 0 for no reply, or ::MC_ERR_INVAL for NULL.
 */
int mc_dlt645_handle_frame(mc_dlt645_t *d, const uint8_t *frame, size_t len, uint8_t *reply);

/**
 * @brief A byte arrived (from the receive interrupt, or from a TCP stream with any clock).
 *
 * A gap over cfg.byte_timeout_ms inside a frame drops the partial frame (this byte may
 * start the next). Bytes that arrive while a complete frame waits for mc_dlt645_poll()
 * are dropped and counted.
 * @param d       the slave.
 * @param byte    the byte.
 * @param now_us  its arrival time, free-running µs (wrap handled).
 */
void mc_dlt645_rx_byte(mc_dlt645_t *d, uint8_t byte, uint32_t now_us);

/**
 * @brief Serve a complete frame if one arrived, send the reply through the port, then apply
 *        a baud change a 17H asked for; drop a partial frame whose inter-byte timeout passed.
 *
 * mc_dlt645_rx_byte() and this call share the instance: do not run them at the same time.
 * @param d       the slave.
 * @param now_us  current time.
 * @return 1 if a frame was served, 0 if nothing was due, 2 if a partial frame timed out,
 *         or the port's negative error from send.
 */
int mc_dlt645_poll(mc_dlt645_t *d, uint32_t now_us);

/**
 * @brief Encode a value as little-endian packed BCD (the standard's data formats).
 * @param v       value in units of the last digit (e.g. 0.01 kWh), |v| < 10^(2n).
 * @param n       bytes (digits = 2n).
 * @param sign    1: the top bit of the highest byte is a sign bit (negative values).
 * @param out     receives n bytes, lowest digits first (before +33H).
 * @return ::MC_OK, or ::MC_ERR_RANGE if it does not fit (out then holds the largest value).
 */
int mc_dlt645_bcd(int32_t v, unsigned n, int sign, uint8_t *out);

#ifdef __cplusplus
}
#endif

#endif /* METERCORE_MC_DLT645_H */
