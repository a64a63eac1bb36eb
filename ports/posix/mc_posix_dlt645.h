/**
 * @file mc_posix_dlt645.h
 * @ingroup grp_posix
 * @brief POSIX port: a DL/T 645-2007 slave on a serial device (or pty) and on TCP.
 *
 * Plain POSIX (termios, sockets, poll()); no library beyond libc. Every frame is served
 * by the library's own slave (::mc_dlt645_t, mc_dlt645.h), fed byte by byte with
 * CLOCK_MONOTONIC timestamps, exactly as a firmware's UART interrupt would.
 * - **Serial**: 8 data bits, even parity and one stop bit by default (the standard's
 *   11-bit character), 2400 baud by default. A pseudo-terminal cannot carry parity and
 *   Linux may refuse to set it (or to set it twice): the parity is then left off and the
 *   line runs at the speed alone (mc_posix_dlt645_t::parity_applied says which). A 17H
 *   (change baud) is answered at the old rate, then the line is reconfigured.
 * - **TCP**: raw frames over TCP, as DL/T645 gateways carry them (no header): up to
 *   ::MC_POSIX_DLT645_MAX_CLIENTS connections, each with its own framer and session; all
 *   share one brute-force guard (::MC_IFACE_DLT645), one address and one broadcast-time
 *   allowance, so reconnecting gains nothing.
 *
 * Not thread-safe: the thread that calls mc_posix_dlt645_poll() owns the model.
 */
#ifndef METERCORE_MC_POSIX_DLT645_H
#define METERCORE_MC_POSIX_DLT645_H

#include <stdint.h>

#include "metercore/mc_dlt645.h"
#include "metercore/mc_registers.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Most TCP connections served at once. */
#define MC_POSIX_DLT645_MAX_CLIENTS 4

/** Transport of an instance. */
enum mc_posix_dlt645_mode {
    MC_POSIX_DLT645_CLOSED = 0, /**< Not open. */
    MC_POSIX_DLT645_SERIAL = 1, /**< Serial device or pty. */
    MC_POSIX_DLT645_TCP = 2     /**< TCP listener carrying raw frames. */
};

/** A DL/T645 server. Caller-allocated; fields private except the ones documented. */
typedef struct mc_posix_dlt645 {
    int mode;                  /**< ::mc_posix_dlt645_mode. */
    int fd;                    /**< Serial device, or the listening socket. */
    int port;                  /**< TCP: the port really listened on. */
    char parity;               /**< Serial: 'N', 'E' or 'O' asked for. */
    int parity_applied;        /**< Serial: 1 if the device took the parity (0 on a pty that refused it). */
    uint32_t baud;             /**< Serial: the baud rate in force. */
    uint8_t address[6];        /**< The slave's address, wire order (follows 15H). */
    int client_fd[MC_POSIX_DLT645_MAX_CLIENTS];      /**< TCP connections, -1 when free. */
    mc_dlt645_t slave[MC_POSIX_DLT645_MAX_CLIENTS];  /**< Serial: slave[0]; TCP: one per connection. */
    mc_auth_guard_t guard;     /**< TCP: the guard all connections share. */
    uint8_t bcast_done;        /**< TCP: a broadcast time was applied (shared allowance). */
    uint32_t bcast_at_ms;      /**< TCP: when. */
    uint64_t frames;           /**< Frames served. */
    mc_model_t *model;         /**< The model. */
    mc_dlt645_config_t cfg;    /**< Configuration the slaves start with. */
} mc_posix_dlt645_t;

/**
 * @brief Open a serial device (or pty) as a DL/T645 line.
 * @param p       the instance.
 * @param model   the data model.
 * @param cfg     slave configuration (address, baud: 1200..9600), or NULL for the defaults.
 * @param device  path of the device.
 * @param parity  'E' (the standard's), 'O' or 'N'.
 * @return ::MC_OK, ::MC_ERR_INVAL, or ::MC_ERR_IO (errno tells why).
 */
int mc_posix_dlt645_open_serial(mc_posix_dlt645_t *p, mc_model_t *model, const mc_dlt645_config_t *cfg,
                                const char *device, char parity);

/**
 * @brief Listen on TCP for raw DL/T645 frames.
 * @param p      the instance.
 * @param model  the data model.
 * @param cfg    slave configuration, or NULL for the defaults.
 * @param host   address to bind (e.g. "127.0.0.1").
 * @param port   port, 0 for any (p->port tells which).
 * @return ::MC_OK, ::MC_ERR_INVAL or ::MC_ERR_IO.
 */
int mc_posix_dlt645_open_tcp(mc_posix_dlt645_t *p, mc_model_t *model, const mc_dlt645_config_t *cfg,
                             const char *host, int port);

/**
 * @brief Serve: wait at most @p timeout_ms for bytes or connections, feed them, answer frames.
 * @param p           the instance.
 * @param timeout_ms  longest wait (0: only what is there).
 * @return frames served (>= 0), or ::MC_ERR_IO if the device failed.
 */
int mc_posix_dlt645_poll(mc_posix_dlt645_t *p, int timeout_ms);

/**
 * @brief Close everything (safe on a closed instance).
 * @param p  the instance.
 */
void mc_posix_dlt645_close(mc_posix_dlt645_t *p);

#ifdef __cplusplus
}
#endif

#endif /* METERCORE_MC_POSIX_DLT645_H */
