/**
 * @file mc_modbus.h
 * @ingroup grp_registers
 * @brief Modbus slave: a transport-independent PDU handler over the data model,
 *        and an RTU framer for firmware (bytes with timestamps in, ADUs out).
 *
 * Layers, nanoMODBUS style:
 * - mc_modbus_handle_pdu(): request PDU in, response PDU out. Serves FC 01
 *   (relay coil), 02 (DI), 03 (holding registers), 05 (relay), 06 and 10 (writes)
 *   through the register map of mc_registers.h. Checks run in the order of the
 *   Modbus specification: exception 01 unsupported function, 03 bad quantity,
 *   02 bad address, 04 failure; then 03 for a value out of range.
 * - ::mc_rtu_t: feed it every received byte with a microsecond timestamp (from
 *   the UART receive interrupt) and call mc_rtu_poll() from the main loop with
 *   the current time. A frame ends after 3.5 character times of silence
 *   (1.75 ms above 19200 baud); a gap over 1.5 characters inside a frame, a bad
 *   CRC or an ADU over 256 bytes drops the frame without a reply; frames for
 *   other addresses are ignored; broadcast (address 0) writes are executed
 *   without a reply.
 *
 * Access (docs/SECURITY.md): reads are public; every write goes through
 * mc_model_write_session() with the caller's ::mc_session_t. Writing the
 * password register (0000H) on a session that has not logged in is a login:
 * right, and the rest of the same request is judged as logged in; wrong, or
 * while the interface is locked out, exception 04 and nothing is written. A
 * write the session's level does not allow, a sealed calibration, a spent
 * write budget or a change that could not be saved: exception 04. A reply to a
 * write is built only after hooks.commit saved the change and its event.
 *
 * Library errors are negative ::mc_err codes; Modbus exceptions are positive
 * ::mc_modbus_exception codes, carried in the response.
 */
#ifndef METERCORE_MC_MODBUS_H
#define METERCORE_MC_MODBUS_H

#include <stddef.h>
#include <stdint.h>

#include "metercore/mc_common.h"
#include "metercore/mc_registers.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Largest RTU ADU: address + 253-byte PDU + CRC. */
#define MC_RTU_ADU_MAX 256u
/** Largest PDU. */
#define MC_MODBUS_PDU_MAX 253u

/** Modbus exception codes (positive, as on the wire). */
typedef enum mc_modbus_exception {
    MC_MB_EX_NONE = 0,              /**< No exception. */
    MC_MB_EX_ILLEGAL_FUNCTION = 1,  /**< Function code not supported. */
    MC_MB_EX_ILLEGAL_ADDRESS = 2,   /**< Address (or address + quantity) not served. */
    MC_MB_EX_ILLEGAL_VALUE = 3,     /**< Quantity or value out of range; request malformed. */
    MC_MB_EX_DEVICE_FAILURE = 4     /**< The action failed (e.g. the relay driver). */
} mc_modbus_exception;

/** Function codes served. */
enum mc_modbus_fc {
    MC_MB_FC_READ_COILS = 0x01,            /**< Relay state (coil 0001H). */
    MC_MB_FC_READ_DISCRETE_INPUTS = 0x02,  /**< DI state (input 0001H). */
    MC_MB_FC_READ_HOLDING = 0x03,          /**< Holding registers. */
    MC_MB_FC_READ_INPUT = 0x04,            /**< Input registers (maps that have them: ::mc_regmap_t). */
    MC_MB_FC_WRITE_SINGLE_COIL = 0x05,     /**< Relay: 0xFF00 close, 0x0000 open. */
    MC_MB_FC_WRITE_SINGLE_REGISTER = 0x06, /**< One register. */
    MC_MB_FC_WRITE_MULTIPLE = 0x10         /**< Several registers, all or nothing. */
};

/** Coil (FC 01/05) and discrete input (FC 02) address of the relay and the DI. */
#define MC_MB_RELAY_COIL 0x0001u

/**
 * @brief Serve one request PDU with the KPM31 map: mc_modbus_handle_pdu_map() with
 *        mc_regmap_builtin("kpm31").
 *
 * @param md        the data model.
 * @param session   the client's session (its level, its interface's guard); NULL: public, reads only.
 * @param req       request PDU (function code first), @p req_len bytes.
 * @param req_len   1..253.
 * @param resp      response PDU buffer, at least ::MC_MODBUS_PDU_MAX bytes; may be
 *                  the same memory as @p req (the request is fully parsed first).
 * @param broadcast 1 if the request was broadcast: writes are executed, reads refused silently.
 * @return the response length in bytes (an exception response is 2 bytes:
 *         function | 0x80, code), 0 for no response (broadcast), or
 *         ::MC_ERR_INVAL for NULL pointers or a length outside 1..253.
 */
int mc_modbus_handle_pdu(mc_model_t *md, mc_session_t *session, const uint8_t *req, size_t req_len, uint8_t *resp,
                         int broadcast);

/**
 * @brief CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF). "01 03 00 00 00 0A" gives 0xCDC5
 *        (sent low byte first: C5 CD).
 * @param data  bytes.
 * @param len   number of bytes.
 * @return the CRC.
 */
uint16_t mc_modbus_crc16(const uint8_t *data, size_t len);

/**
 * @brief Serve one request PDU with a register map (a product's own, or a built-in one:
 *        mc_regmap_builtin()).
 *
 * As mc_modbus_handle_pdu(), with the map's tables: FC 03 reads its holding registers, FC 04
 * its input registers, FC 06/10 write its holding registers, FC 01/02/05 serve the relay and
 * the DI if the map has ::MC_REGMAP_BITS. A function code the map has no table for: exception
 * 01. A read that touches no defined register, or a write to one not defined writable:
 * exception 02; a read that touches one returns zeros for the rest. Writes go through the
 * same access levels, session, budgets and all-or-nothing write as every other map: a map
 * decides where a quantity sits, never who may change it.
 * @param map  the register map (must pass mc_regmap_check()).
 * @param md   the data model.
 * @param session   the client's session, or NULL (public, reads only).
 * @param req  request PDU, @p req_len bytes (1..253).
 * @param req_len   its length.
 * @param resp response buffer, at least ::MC_MODBUS_PDU_MAX bytes (may be @p req).
 * @param broadcast 1 if broadcast: writes executed, nothing answered.
 * @return the response length, 0 for no response, ::MC_ERR_INVAL for NULL pointers or a bad length.
 */
int mc_modbus_handle_pdu_map(const mc_regmap_t *map, mc_model_t *md, mc_session_t *session, const uint8_t *req,
                             size_t req_len, uint8_t *resp, int broadcast);

/**
 * Port of the RTU framer: how to send a response. Called from mc_rtu_poll().
 * `send` transmits the ADU (blocking, or queued by the port; the buffer is
 * reused after the call returns) and returns 0 or a negative mc_err. The port
 * drives the RS485 direction pin around the transmission. `line` changes the
 * baud rate and parity; it is called after a response has been sent when a
 * write changed them, so the reply still goes out at the old settings, as the
 * device does it. Both may be NULL (no response / no line changes).
 */
typedef struct mc_rtu_port {
    int (*send)(void *ctx, const uint8_t *adu, size_t len); /**< Transmit an ADU. */
    void (*line)(void *ctx, uint32_t baud, uint8_t parity); /**< Apply new line settings. */
    void *ctx;                                               /**< Passed to both. */
} mc_rtu_port_t;

/** Framer statistics, for diagnostics. */
typedef struct mc_rtu_stats {
    uint32_t frames;       /**< Frames addressed to us (or broadcast) and handled. */
    uint32_t crc_errors;   /**< Frames dropped for a bad CRC. */
    uint32_t gap_errors;   /**< Frames dropped for a gap over 1.5 characters. */
    uint32_t overruns;     /**< Frames dropped for exceeding 256 bytes. */
    uint32_t foreign;      /**< Frames for other addresses. */
} mc_rtu_stats_t;

/** Unit ids besides the meter's address that one RTU line may answer, each with its own map. */
#define MC_RTU_MAX_UNITS 3u

/** A further unit id of an RTU line and its map (mc_rtu_add_unit()). */
typedef struct mc_rtu_unit {
    uint8_t id;                 /**< Unit id 1..247, 0 = slot unused. */
    const mc_regmap_t *map;     /**< Its map. */
} mc_rtu_unit_t;

/** RTU framer instance. Caller-allocated; all fields private. */
typedef struct mc_rtu {
    mc_model_t *model;          /**< Model served (address, baud and parity come from its params). */
    const mc_regmap_t *map;     /**< Map served at the meter's address and to broadcasts (KPM31 by default). */
    mc_rtu_unit_t units[MC_RTU_MAX_UNITS]; /**< Further unit ids and their maps. */
    mc_rtu_port_t port;         /**< Port. */
    uint8_t buf[MC_RTU_ADU_MAX]; /**< Frame being received; reused for the response. */
    uint16_t len;               /**< Bytes in buf. */
    uint8_t bad;                /**< The frame under way is to be dropped. */
    uint8_t have_frame;         /**< A byte has arrived since the last frame end. */
    uint32_t last_us;           /**< Timestamp of the last byte. */
    uint32_t t15_us;            /**< 1.5 character times, µs. */
    uint32_t t35_us;            /**< 3.5 character times, µs. */
    uint32_t baud;              /**< Line settings in force. */
    uint8_t parity;             /**< Parity in force. */
    mc_rtu_stats_t stats;       /**< Statistics. */
    mc_auth_guard_t guard;      /**< Brute-force guard of this line (::MC_IFACE_RTU). */
    mc_session_t session;       /**< The master's session (one master per RTU line). */
} mc_rtu_t;

/**
 * @brief Start a framer over a model, with the model's baud and parity.
 * @param r      the instance.
 * @param model  the data model.
 * @param port   the port (copied).
 * @return ::MC_OK or ::MC_ERR_INVAL.
 */
int mc_rtu_init(mc_rtu_t *r, mc_model_t *model, const mc_rtu_port_t *port);

/**
 * @brief The map served at the meter's address (and to broadcasts). mc_rtu_init() starts
 *        with the KPM31 map.
 * @param r    the framer.
 * @param map  the map (kept by pointer: must outlive the framer; must pass mc_regmap_check()).
 * @return ::MC_OK, or ::MC_ERR_INVAL for NULL or a map that fails mc_regmap_check().
 */
int mc_rtu_set_map(mc_rtu_t *r, const mc_regmap_t *map);

/**
 * @brief Answer a further unit id on the same line with another map (one meter seen as, say,
 *        a KPM31 at its address and an SDM120 at unit 2). The line's session and guard are
 *        shared: a login at one unit id holds for all. If the meter's address is later set to
 *        this id, the meter's address wins.
 * @param r     the framer.
 * @param unit  1..247, not the meter's address.
 * @param map   the map (kept by pointer), or NULL to stop answering @p unit.
 * @return ::MC_OK, ::MC_ERR_INVAL for a bad id or map, ::MC_ERR_NOSPACE when
 *         ::MC_RTU_MAX_UNITS ids are taken.
 */
int mc_rtu_add_unit(mc_rtu_t *r, uint8_t unit, const mc_regmap_t *map);

/**
 * @brief The map of a further unit id in a table of ::MC_RTU_MAX_UNITS (the RTU framer's, a TCP
 *        server's).
 * @param units  the table.
 * @param unit   the unit id of a request.
 * @return its map, or NULL if @p unit is not in the table (or is 0).
 */
const mc_regmap_t *mc_modbus_unit_map(const mc_rtu_unit_t units[MC_RTU_MAX_UNITS], uint8_t unit);

/**
 * @brief Add, replace or remove a further unit id in a table of ::MC_RTU_MAX_UNITS: the rules of
 *        mc_rtu_add_unit() for any transport.
 * @param units        the table (zero-filled to start).
 * @param own_address  the meter's address (never a further unit id).
 * @param unit         1..247.
 * @param map          the map (kept by pointer), or NULL to remove @p unit.
 * @return ::MC_OK, ::MC_ERR_INVAL, ::MC_ERR_NOSPACE (every slot taken).
 */
int mc_modbus_unit_set(mc_rtu_unit_t units[MC_RTU_MAX_UNITS], uint8_t own_address, uint8_t unit,
                       const mc_regmap_t *map);

/**
 * @brief A byte arrived (call from the receive interrupt or right after it).
 *
 * Time is a free-running microsecond counter; wrap-around is handled (only
 * differences are used). Nothing is served here: frames are served by
 * mc_rtu_poll(), which the main loop must call at least once per 3.5 character
 * times (4 ms at 9600 baud, 32 ms at 1200; 1.75 ms above 19200). A byte that follows 3.5 characters of silence starts
 * a new frame; a complete frame that was not polled before it is dropped and
 * counted in stats.overruns. A gap over 1.5 characters inside a frame marks it
 * to be dropped, and so does a frame longer than ::MC_RTU_ADU_MAX.
 * @param r     the framer.
 * @param byte  the byte.
 * @param now_us  its arrival time.
 */
void mc_rtu_rx_byte(mc_rtu_t *r, uint8_t byte, uint32_t now_us);

/**
 * @brief Close and serve a frame once 3.5 characters of silence have passed.
 *
 * The receive path and this call share the frame buffer, and the response is
 * built in it: mask the receive interrupt around this call, or have the ISR
 * queue bytes with their timestamps and feed them from the main loop.
 * @param r       the framer.
 * @param now_us  current time.
 * @return 1 if a frame was served (a response may have been sent), 0 if nothing
 *         was due, 2 if a frame was dropped (CRC, gap, overrun, foreign address),
 *         or a negative mc_err from the port's send.
 */
int mc_rtu_poll(mc_rtu_t *r, uint32_t now_us);

/**
 * @brief Baud rate of a baud code (1..4 = 1200..9600).
 * @param code  the code.
 * @return baud, or 0 for an invalid code.
 */
uint32_t mc_modbus_baud(unsigned code);

#ifdef __cplusplus
}
#endif

#endif /* METERCORE_MC_MODBUS_H */
