/**
 * @file mc_posix_modbus.h
 * @ingroup grp_posix
 * @brief POSIX port: Modbus TCP and Modbus RTU servers over the data model.
 *
 * libmodbus (Debian: libmodbus-dev) is the transport only: it opens the TCP
 * listening socket (modbus_tcp_pi_listen) and the serial device or pty
 * (modbus_new_rtu + modbus_connect). Every request is served by
 * mc_modbus_handle_pdu() of src/registers, exactly as on the device; no
 * libmodbus mapping is involved.
 *
 * - **TCP**: up to ::MC_POSIX_MODBUS_MAX_CLIENTS clients at once, each with its
 *   own receive buffer and its own session (::mc_session_t: the password level
 *   reached on that connection, ended when it closes); all connections share
 *   one brute-force guard (::mc_auth_guard_t, ::MC_IFACE_TCP), so reconnecting
 *   neither resets the count of wrong passwords nor ends a lockout, and one
 *   connection's login opens no other connection. Requests may be pipelined.
 *   The MBAP header is parsed here and the response carries the request's
 *   transaction and unit id. Unit ids served: the meter's address, 0 and 255
 *   (as usual on TCP, 0 is not a broadcast here: it is answered); any other
 *   unit id gets exception 0BH (gateway target device failed to respond). A
 *   client that disconnects, sends a malformed header (protocol id not 0,
 *   length outside 2..254) or does not read its responses (its socket buffer
 *   full) is dropped; the others are not affected.
 * - **A fair TCP server** (::mc_posix_modbus_limits_t): one client cannot keep
 *   the others, or the caller, waiting.
 *   - A connection without a request for `idle_timeout_ms` (default 60 s) is
 *     closed; so is one whose request under way stays incomplete for
 *     `request_timeout_ms` (default 5 s), so a client trickling bytes (1 byte/s)
 *     holds a slot for seconds, not for ever. Bytes alone are no activity:
 *     only a complete request is.
 *   - When every slot is taken, a new client gets the slot of the connection
 *     idle the longest, if that one has been idle at least `evict_idle_ms`
 *     (default 1 s); otherwise the new connection is accepted and closed at
 *     once (a server busy with 32 active clients keeps them).
 *   - One mc_posix_modbus_poll() serves at most `requests_per_client` requests
 *     (default 4) of each client; what a pipelining client sent beyond that
 *     waits in its buffer and socket for the next poll. The listen queue is
 *     accepted at every poll (at most ::MC_POSIX_MODBUS_ACCEPTS_PER_POLL
 *     connections), whether or not the wait saw it, with a backlog of
 *     ::MC_POSIX_MODBUS_BACKLOG. So one poll does a bounded amount of work: at
 *     most MAX_CLIENTS x requests_per_client requests (128 by default) plus the
 *     accepts, and no client is started once ::MC_POSIX_MODBUS_POLL_WORK_MS of
 *     work are spent (the clients take turns at being first), so that costly
 *     requests bound the poll too. The caller's metering and storage run
 *     between polls, never behind a client that keeps sending.
 *   - Timeouts are checked at every poll, on CLOCK_MONOTONIC. The counters
 *     (::mc_posix_modbus_stats_t) say what was closed and why.
 * - **RTU**: bytes read from the line are fed, with CLOCK_MONOTONIC timestamps,
 *   to the library's own framer ::mc_rtu_t (the one the firmware uses): frames
 *   end after 3.5 characters of silence, bad CRCs and frames for other
 *   addresses are dropped, broadcast writes are executed without a reply. The
 *   framer is polled before every batch of new bytes is fed, so a frame that
 *   has ended (a broadcast, which the master follows at once with its next
 *   request) is served before the next one can run into it. The line has one
 *   session and one brute-force guard (::MC_IFACE_RTU), held by the framer. A
 *   parameter write takes effect as on the device: a new slave address for
 *   the next request, a new baud code or parity once the reply has been sent
 *   (the line is reconfigured with termios in a poll once the output queue is
 *   empty, so a poll never blocks for a reply's transmission; a pty, which
 *   cannot carry parity on Linux, gets the speed alone). Bytes that arrive
 *   while the caller is not in mc_posix_modbus_poll() are stamped when they are read, so
 *   poll often (every few ms) for faithful framing; two requests that queued
 *   up unread in the meantime run together and are dropped like on a real
 *   line.
 *
 * Not thread-safe: one thread calls mc_posix_modbus_poll() and also owns the
 * model (call mc_meter_process() etc. from the same thread, between polls).
 * The instance must not move while open (the sessions point to its guard).
 *
 * @code
 * mc_posix_modbus_t mb;
 * if (mc_posix_modbus_open_tcp(&mb, &model, "127.0.0.1", 1502) == MC_OK) {
 *     for (;;) {
 *         mc_posix_modbus_poll(&mb, 10);   // serve, at most 10 ms
 *         // ... feed the meter, run the tariff and storage ...
 *     }
 *     mc_posix_modbus_close(&mb);
 * }
 * @endcode
 */
#ifndef METERCORE_MC_POSIX_MODBUS_H
#define METERCORE_MC_POSIX_MODBUS_H

#include <stdint.h>

#include "metercore/mc_modbus.h"
#include "metercore/mc_registers.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Most TCP clients served at once. */
#define MC_POSIX_MODBUS_MAX_CLIENTS 32

/** Default of mc_posix_modbus_limits_t::idle_timeout_ms: a connection without a request for 60 s is closed. */
#define MC_POSIX_MODBUS_IDLE_TIMEOUT_MS 60000u
/** Default of mc_posix_modbus_limits_t::request_timeout_ms: a request may take 5 s to arrive whole. */
#define MC_POSIX_MODBUS_REQUEST_TIMEOUT_MS 5000u
/** Default of mc_posix_modbus_limits_t::evict_idle_ms: a connection idle 1 s may lose its slot to a new client. */
#define MC_POSIX_MODBUS_EVICT_IDLE_MS 1000u
/** Default of mc_posix_modbus_limits_t::requests_per_client: requests served per client per poll. */
#define MC_POSIX_MODBUS_REQUESTS_PER_CLIENT 4u
/** Most connections taken from the listen queue in one poll. */
#define MC_POSIX_MODBUS_ACCEPTS_PER_POLL 64u
/** Listen backlog of the TCP server (the kernel may cap it at net.core.somaxconn). */
#define MC_POSIX_MODBUS_BACKLOG 128

/** MBAP header (7 bytes) plus the largest PDU: the longest Modbus TCP ADU. */
#define MC_POSIX_MODBUS_TCP_ADU_MAX (7u + MC_MODBUS_PDU_MAX)

/** Transport of an instance. */
enum mc_posix_modbus_mode {
    MC_POSIX_MODBUS_CLOSED = 0, /**< Not open (after close, or never opened). */
    MC_POSIX_MODBUS_TCP = 1,    /**< Modbus TCP server. */
    MC_POSIX_MODBUS_RTU = 2     /**< Modbus RTU slave on a serial device or pty. */
};

/** One TCP client connection. */
typedef struct mc_posix_modbus_client {
    int fd;        /**< Connected socket (non-blocking), or -1 when the slot is free. */
    uint16_t len;  /**< Bytes of the request(s) under way in buf. */
    uint8_t buf[MC_POSIX_MODBUS_TCP_ADU_MAX]; /**< Request being received (MBAP header + PDU). */
    int64_t last_us;    /**< CLOCK_MONOTONIC µs of the last request served (or of the accept). */
    int64_t partial_us; /**< CLOCK_MONOTONIC µs the incomplete request in buf was first seen (0: none). */
    mc_session_t session; /**< This connection's session (its password level); ended when it closes. */
} mc_posix_modbus_client_t;

/** Counters, for diagnostics and the simulator's display. */
typedef struct mc_posix_modbus_stats {
    uint64_t requests;     /**< Requests served (answered, or broadcast writes executed). */
    uint64_t accepted;     /**< TCP connections accepted. */
    uint64_t dropped;      /**< TCP connections closed: peer gone, malformed MBAP, send failed. */
    uint64_t refused;      /**< TCP connections closed at once: every slot busy and none idle long enough. */
    uint64_t line_changes; /**< RTU line reconfigurations after a baud or parity write. */
    uint64_t idle_timeouts;    /**< TCP connections closed after idle_timeout_ms without a request. */
    uint64_t request_timeouts; /**< TCP connections closed with a request incomplete for request_timeout_ms. */
    uint64_t evicted;      /**< TCP connections closed to give their slot to a new client (the longest idle). */
    uint64_t deferred;     /**< Times a client had more requests than its per-poll share (left for the next poll). */
} mc_posix_modbus_stats_t;

/** Work time of one poll, ms: once spent, the clients not yet served wait for the next poll
 *  (with at most ::MC_POSIX_MODBUS_REQUESTS_PER_CLIENT requests each, a poll lasts this long plus
 *  one client's requests). */
#define MC_POSIX_MODBUS_POLL_WORK_MS 20u

/** Limits of the TCP server (see the file's description). mc_posix_modbus_limits_default() gives the defaults. */
typedef struct mc_posix_modbus_limits {
    uint32_t idle_timeout_ms;     /**< Close a connection after this long without a request; 0: never. */
    uint32_t request_timeout_ms;  /**< Close a connection whose request stays incomplete this long; 0: never. */
    uint32_t evict_idle_ms;       /**< A new client may take the slot of a connection idle this long. */
    uint32_t requests_per_client; /**< Requests served per client in one poll, 1..64. */
} mc_posix_modbus_limits_t;

/**
 * A Modbus server instance. Caller-allocated; valid from a successful
 * mc_posix_modbus_open_tcp() or mc_posix_modbus_open_rtu() to
 * mc_posix_modbus_close(). The fields are readable for diagnostics; change
 * none of them.
 */
typedef struct mc_posix_modbus {
    int mode;             /**< ::mc_posix_modbus_mode. */
    mc_model_t *model;    /**< The data model served (not owned). */
    void *ctx;            /**< The libmodbus context (modbus_t *) that opened the socket or line. */
    int fd;               /**< TCP: the listening socket; RTU: the serial device; -1 when closed. */
    int port;             /**< TCP: the port listened on (the real one when 0 was asked for); RTU: 0. */
    mc_posix_modbus_client_t clients[MC_POSIX_MODBUS_MAX_CLIENTS]; /**< TCP client slots (unused for RTU). */
    unsigned next_client; /**< TCP: the client served first at the next poll (they take turns). */
    mc_rtu_t rtu;         /**< RTU: the library's framer over the model (unused for TCP). */
    uint32_t baud;        /**< RTU: baud rate in force on the line. */
    uint8_t parity;       /**< RTU: parity in force on the line, 0 none, 1 even, 2 odd. */
    uint8_t line_pending; /**< RTU: a line change waits for the reply that carried it to leave. */
    uint8_t pending_parity; /**< RTU: parity of the pending line change. */
    uint32_t pending_baud; /**< RTU: baud rate of the pending line change. */
    int io_error;         /**< RTU: the last send or line change failed (a negative mc_err), else 0. */
    mc_posix_modbus_stats_t stats; /**< Counters. */
    mc_posix_modbus_limits_t limits; /**< TCP: the limits in force (mc_posix_modbus_set_limits()). */
    mc_auth_guard_t guard; /**< TCP: the brute-force guard shared by every connection (::MC_IFACE_TCP). */
    const mc_regmap_t *map; /**< TCP: the map served at the meter's address, unit 0 and 255 (KPM31 by default;
                                 RTU: the framer's). */
    mc_rtu_unit_t units[MC_RTU_MAX_UNITS]; /**< TCP: further unit ids and their maps (RTU: the framer's). */
} mc_posix_modbus_t;

/**
 * @brief The default limits: idle 60 s, an incomplete request 5 s, eviction after 1 s idle, 4 requests
 *        per client per poll.
 * @param lim  receives them.
 */
void mc_posix_modbus_limits_default(mc_posix_modbus_limits_t *lim);

/**
 * @brief Change the TCP server's limits (after mc_posix_modbus_open_tcp(), which sets the defaults).
 *
 * Takes effect at the next poll, for the connections already open too.
 * @param mb   the instance (TCP).
 * @param lim  the limits; requests_per_client 1..64.
 * @return ::MC_OK; ::MC_ERR_INVAL (NULL, not a TCP server, requests_per_client out of range).
 */
int mc_posix_modbus_set_limits(mc_posix_modbus_t *mb, const mc_posix_modbus_limits_t *lim);

/**
 * @brief Listen for Modbus TCP clients on host:port.
 * @param mb    the instance.
 * @param md    the data model to serve (initialised).
 * @param host  address or name to listen on ("127.0.0.1", "::1", "localhost");
 *              NULL or "" for every address.
 * @param port  TCP port 1..65535, or 0 for one chosen by the system (see mb->port).
 * @return ::MC_OK; ::MC_ERR_INVAL (NULL pointers, port out of range);
 *         ::MC_ERR_IO (the address cannot be resolved or bound, e.g. in use).
 */
int mc_posix_modbus_open_tcp(mc_posix_modbus_t *mb, mc_model_t *md, const char *host, int port);

/**
 * @brief Serve Modbus RTU on a serial device or pty, 8 data bits, 1 stop bit.
 *
 * The line settings are the model's parameters (baud code, parity): a @p baud
 * or @p parity given here is written into the model first (mc_model_write()
 * with ::MC_SRC_LOCAL, so the on_change hook sees it), as if set on the front
 * panel; 0 for either keeps the model's.
 * @param mb      the instance.
 * @param md      the data model to serve (initialised).
 * @param device  e.g. "/dev/ttyUSB0" or a pty such as one end of a socat pair.
 * @param baud    1200, 2400, 4800 or 9600 (the meter's baud codes 1..4), or 0.
 * @param parity  'N', 'E' or 'O' (lower case too), or 0.
 * @return ::MC_OK; ::MC_ERR_INVAL (NULL pointers, a baud or parity the meter
 *         does not have); ::MC_ERR_IO (the device cannot be opened or configured).
 */
int mc_posix_modbus_open_rtu(mc_posix_modbus_t *mb, mc_model_t *md, const char *device, int baud, char parity);

/**
 * @brief The register map served at the meter's address (TCP: and at unit ids 0 and 255), after
 *        mc_posix_modbus_open_tcp() or mc_posix_modbus_open_rtu(); the KPM31 map until then.
 * @param mb   the open instance.
 * @param map  the map (kept by pointer: must outlive the server), e.g. mc_regmap_builtin("sdm630").
 * @return ::MC_OK, or ::MC_ERR_INVAL (not open, NULL, or a map that fails mc_regmap_check()).
 */
int mc_posix_modbus_set_map(mc_posix_modbus_t *mb, const mc_regmap_t *map);

/**
 * @brief Serve a further unit id with another map (one meter seen as several devices; at most
 *        ::MC_RTU_MAX_UNITS). Unit ids neither the meter's nor added get exception 0BH over TCP
 *        and no reply over RTU.
 * @param mb    the open instance.
 * @param unit  1..247, not the meter's address.
 * @param map   the map (kept by pointer), or NULL to stop serving @p unit.
 * @return ::MC_OK; ::MC_ERR_INVAL (not open, a bad unit id or map); ::MC_ERR_NOSPACE (every slot taken).
 */
int mc_posix_modbus_add_unit(mc_posix_modbus_t *mb, uint8_t unit, const mc_regmap_t *map);

/**
 * @brief Serve what is pending, waiting at most @p timeout_ms for something to do.
 *
 * Returns as soon as at least one request was served, or when the time is up;
 * never waits while requests are pending. TCP: closes connections past their
 * timeouts, accepts what is in the listen queue (a new client may evict the
 * longest idle connection when every slot is taken), reads every readable
 * client and answers up to limits.requests_per_client complete requests of
 * each (the rest wait for the next poll, which then does not wait). RTU: serves
 * a frame that has ended, feeds received bytes to the framer and, when a frame
 * is under way, waits (within the time left) for the 3.5-character silence
 * that ends it, then answers it.
 * @param mb          the instance.
 * @param timeout_ms  longest wait, ms; 0 (or negative) checks without waiting.
 * @return the number of requests served (>= 0), or a negative mc_err:
 *         ::MC_ERR_INVAL (not open), ::MC_ERR_IO (the serial line failed, e.g.
 *         the device went away; the listening socket failed).
 */
int mc_posix_modbus_poll(mc_posix_modbus_t *mb, int timeout_ms);

/**
 * @brief Close every client, the listening socket or the line. Safe on a closed
 *        (or zero-filled) instance and twice.
 * @param mb  the instance (NULL ignored).
 */
void mc_posix_modbus_close(mc_posix_modbus_t *mb);

#ifdef __cplusplus
}
#endif

#endif /* METERCORE_MC_POSIX_MODBUS_H */
