/*
 * POSIX port: Modbus TCP and RTU servers over mc_modbus_handle_pdu(). See mc_posix_modbus.h.
 * SPDX-License-Identifier: MIT
 *
 * libmodbus opens the listening socket and the serial line; framing, the MBAP
 * header and the serving are done here and in src/registers, so the simulator
 * answers exactly what the firmware answers.
 */
#define _DEFAULT_SOURCE /* cfsetspeed, CRTSCTS; implies _POSIX_C_SOURCE 200809L */

#include "mc_posix_modbus.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <modbus.h>

/* Modbus TCP: MBAP header length, and the exception for a unit id that is not ours. */
#define MBAP_LEN 7u
#define EX_GATEWAY_TARGET 0x0Bu

/* Milliseconds and microseconds of CLOCK_MONOTONIC. */
static int64_t now_us64(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int set_nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        return -1;
    }
    int fd_fl = fcntl(fd, F_GETFD);
    if (fd_fl < 0 || fcntl(fd, F_SETFD, fd_fl | FD_CLOEXEC) < 0) {
        return -1;
    }
    return 0;
}

static void reset(mc_posix_modbus_t *mb, mc_model_t *md)
{
    memset(mb, 0, sizeof(*mb));
    mb->model = md;
    mb->map = mc_regmap_builtin(NULL);
    mb->fd = -1;
    for (unsigned k = 0; k < MC_POSIX_MODBUS_MAX_CLIENTS; k++) {
        mb->clients[k].fd = -1;
    }
    mc_posix_modbus_limits_default(&mb->limits);
}

void mc_posix_modbus_limits_default(mc_posix_modbus_limits_t *lim)
{
    if (lim != NULL) {
        lim->idle_timeout_ms = MC_POSIX_MODBUS_IDLE_TIMEOUT_MS;
        lim->request_timeout_ms = MC_POSIX_MODBUS_REQUEST_TIMEOUT_MS;
        lim->evict_idle_ms = MC_POSIX_MODBUS_EVICT_IDLE_MS;
        lim->requests_per_client = MC_POSIX_MODBUS_REQUESTS_PER_CLIENT;
    }
}

int mc_posix_modbus_set_limits(mc_posix_modbus_t *mb, const mc_posix_modbus_limits_t *lim)
{
    if (mb == NULL || lim == NULL || mb->mode != MC_POSIX_MODBUS_TCP || lim->requests_per_client < 1u ||
        lim->requests_per_client > 64u) {
        return MC_ERR_INVAL;
    }
    mb->limits = *lim;
    return MC_OK;
}

/* ------------------------------------------------------------------------- */
/* TCP                                                                        */
/* ------------------------------------------------------------------------- */

int mc_posix_modbus_open_tcp(mc_posix_modbus_t *mb, mc_model_t *md, const char *host, int port)
{
    if (mb == NULL || md == NULL || port < 0 || port > 65535) {
        return MC_ERR_INVAL;
    }
    reset(mb, md);
    char service[8];
    snprintf(service, sizeof(service), "%d", port);
    modbus_t *ctx = modbus_new_tcp_pi((host != NULL && host[0] != '\0') ? host : NULL, service);
    if (ctx == NULL) {
        return MC_ERR_IO;
    }
    int fd = modbus_tcp_pi_listen(ctx, MC_POSIX_MODBUS_BACKLOG);
    if (fd < 0 || set_nonblock_cloexec(fd) < 0) {
        if (fd >= 0) {
            close(fd);
        }
        modbus_free(ctx);
        return MC_ERR_IO;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int real_port = port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            real_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            real_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    mb->ctx = ctx;
    mb->fd = fd;
    mb->port = real_port;
    mc_auth_guard_init(&mb->guard, MC_IFACE_TCP);
    mb->mode = MC_POSIX_MODBUS_TCP;
    return MC_OK;
}

/* Why a connection is closed, for the counters. */
enum drop_reason { DROP_PEER, DROP_IDLE, DROP_SLOW, DROP_EVICT };

static void client_drop(mc_posix_modbus_t *mb, mc_posix_modbus_client_t *c, int why)
{
    if (c->fd >= 0) {
        close(c->fd);
        switch (why) {
        case DROP_IDLE: mb->stats.idle_timeouts++; break;
        case DROP_SLOW: mb->stats.request_timeouts++; break;
        case DROP_EVICT: mb->stats.evicted++; break;
        default: mb->stats.dropped++; break;
        }
    }
    mc_session_end(&c->session);
    c->fd = -1;
    c->len = 0;
    c->partial_us = 0;
}

/* Length of the complete request at the start of the buffer (MBAP header included), 0 if it is
 * not complete yet, -1 if its header is malformed. */
static int tcp_request_len(const mc_posix_modbus_client_t *c)
{
    if (c->len < MBAP_LEN) {
        return 0;
    }
    const unsigned proto = ((unsigned)c->buf[2] << 8) | c->buf[3];
    const unsigned length = ((unsigned)c->buf[4] << 8) | c->buf[5]; /* unit id + PDU */
    if (proto != 0u || length < 2u || length > 1u + MC_MODBUS_PDU_MAX) {
        return -1;
    }
    const size_t total = 6u + length;
    return c->len < total ? 0 : (int)total;
}

/* Close the connections past their timeouts: idle (no request for idle_timeout_ms) and slow
 * (a request incomplete for request_timeout_ms). */
static void tcp_expire(mc_posix_modbus_t *mb, int64_t now)
{
    const int64_t idle = (int64_t)mb->limits.idle_timeout_ms * 1000;
    const int64_t slow = (int64_t)mb->limits.request_timeout_ms * 1000;
    for (unsigned k = 0; k < MC_POSIX_MODBUS_MAX_CLIENTS; k++) {
        mc_posix_modbus_client_t *c = &mb->clients[k];
        if (c->fd < 0) {
            continue;
        }
        if (slow > 0 && c->len > 0u && c->partial_us != 0 && tcp_request_len(c) == 0 && now - c->partial_us >= slow) {
            client_drop(mb, c, DROP_SLOW);
        } else if (idle > 0 && now - c->last_us >= idle && tcp_request_len(c) == 0) {
            client_drop(mb, c, DROP_IDLE);
        }
    }
}

/* A slot for a new client: a free one, else the one idle the longest if it has been idle at least
 * evict_idle_ms (it is closed), else NULL. A connection with a complete request waiting is not idle. */
static mc_posix_modbus_client_t *tcp_slot(mc_posix_modbus_t *mb, int64_t now)
{
    mc_posix_modbus_client_t *oldest = NULL;
    for (unsigned k = 0; k < MC_POSIX_MODBUS_MAX_CLIENTS; k++) {
        mc_posix_modbus_client_t *c = &mb->clients[k];
        if (c->fd < 0) {
            return c;
        }
        if (tcp_request_len(c) == 0 && (oldest == NULL || c->last_us < oldest->last_us)) {
            oldest = c;
        }
    }
    if (oldest != NULL && now - oldest->last_us >= (int64_t)mb->limits.evict_idle_ms * 1000) {
        client_drop(mb, oldest, DROP_EVICT);
        return oldest;
    }
    return NULL;
}

/* Take what is in the listen queue (at most MC_POSIX_MODBUS_ACCEPTS_PER_POLL): every poll, so a
 * connect never waits for the queue to be noticed. */
static void tcp_accept(mc_posix_modbus_t *mb, int64_t now)
{
    for (unsigned n = 0; n < MC_POSIX_MODBUS_ACCEPTS_PER_POLL; n++) {
        int fd = accept(mb->fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue; /* a connection that went away before accept */
            }
            return; /* EAGAIN (nothing more), or resource limits (EMFILE: tried again next poll) */
        }
        mc_posix_modbus_client_t *slot = tcp_slot(mb, now);
        if (slot == NULL || set_nonblock_cloexec(fd) < 0) {
            close(fd);
            mb->stats.refused++;
            continue;
        }
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        slot->fd = fd;
        slot->len = 0;
        slot->last_us = now;
        slot->partial_us = 0;
        mc_session_init(&slot->session, &mb->guard);
        mb->stats.accepted++;
    }
}

/* Send a whole buffer on a non-blocking socket. A client whose socket cannot take
 * a response of at most 260 bytes right away has megabytes unread: it is not
 * reading, and is dropped rather than waited for. 0 ok, -1 drop it. */
static int tcp_send_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0u) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else {
            return -1;
        }
    }
    return 0;
}

/*
 * Serve the complete request at the start of a client's buffer. Returns 1 if one
 * was served, 0 if none is complete, -1 if the client is to be dropped
 * (malformed header, send failure, handler error).
 */
static int tcp_serve_one(mc_posix_modbus_t *mb, mc_posix_modbus_client_t *c, int64_t now)
{
    const int total = tcp_request_len(c);
    if (total <= 0) {
        return total;
    }
    const unsigned length = (unsigned)total - 6u;
    uint8_t resp[MBAP_LEN + MC_MODBUS_PDU_MAX];
    const uint8_t unit = c->buf[6];
    int n;
    const mc_regmap_t *map = NULL;
    if (unit == mb->model->params.address || unit == 0u || unit == 255u) {
        map = mb->map;
    } else {
        map = mc_modbus_unit_map(mb->units, unit);
    }
    if (map != NULL) {
        n = mc_modbus_handle_pdu_map(map, mb->model, &c->session, c->buf + MBAP_LEN, length - 1u, resp + MBAP_LEN,
                                     0);
        if (n < 0 || n > (int)MC_MODBUS_PDU_MAX) {
            return -1;
        }
    } else {
        resp[MBAP_LEN] = (uint8_t)(c->buf[MBAP_LEN] | 0x80u);
        resp[MBAP_LEN + 1u] = EX_GATEWAY_TARGET;
        n = 2;
    }
    /* Consume the request before answering (the buffer is reused). */
    memcpy(resp, c->buf, 2); /* transaction id */
    memmove(c->buf, c->buf + total, c->len - (size_t)total);
    c->len = (uint16_t)(c->len - (size_t)total);
    c->last_us = now;
    c->partial_us = c->len > 0u ? now : 0; /* what follows is the next request, begun by now */
    mb->stats.requests++;
    if (n == 0) {
        return 1; /* nothing to answer (cannot happen without broadcast) */
    }
    resp[2] = 0;
    resp[3] = 0;
    resp[4] = (uint8_t)((unsigned)(n + 1) >> 8);
    resp[5] = (uint8_t)(n + 1);
    resp[6] = unit;
    return tcp_send_all(c->fd, resp, MBAP_LEN + (size_t)n) < 0 ? -1 : 1;
}

/* Read what a client sent and serve at most limits.requests_per_client requests of it; what
 * is beyond waits in the buffer and the socket for the next poll. Returns requests served. */
static int tcp_client_io(mc_posix_modbus_t *mb, mc_posix_modbus_client_t *c, int64_t now)
{
    const int budget = (int)mb->limits.requests_per_client;
    int served = 0;
    int reads = 0;
    for (;;) {
        while (served < budget) {
            const int s = tcp_serve_one(mb, c, now);
            if (s < 0) {
                client_drop(mb, c, DROP_PEER);
                return served;
            }
            if (s == 0) {
                break;
            }
            served++;
        }
        if (served >= budget) {
            if (tcp_request_len(c) > 0) {
                mb->stats.deferred++;
            }
            return served;
        }
        /* No complete request in the buffer: read (a few times at most: the budget bounds the work). */
        if (reads++ > budget || c->len >= sizeof(c->buf)) {
            return served;
        }
        ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
        if (r > 0) {
            if (c->len == 0u) {
                c->partial_us = now; /* a request begins */
            }
            c->len = (uint16_t)(c->len + (size_t)r);
            continue;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return served;
        }
        client_drop(mb, c, DROP_PEER); /* 0: orderly close; other errors: reset */
        return served;
    }
}

static int tcp_poll(mc_posix_modbus_t *mb, int64_t deadline_us)
{
    struct pollfd pf[1 + MC_POSIX_MODBUS_MAX_CLIENTS];
    int idx[1 + MC_POSIX_MODBUS_MAX_CLIENTS];
    int served = 0;
    for (;;) {
        int64_t now = now_us64();
        tcp_expire(mb, now);
        nfds_t n = 0;
        int pending = 0; /* a client has a complete request buffered: do not wait */
        pf[n] = (struct pollfd){ .fd = mb->fd, .events = POLLIN };
        idx[n++] = -1;
        for (int k = 0; k < (int)MC_POSIX_MODBUS_MAX_CLIENTS; k++) {
            if (mb->clients[k].fd >= 0) {
                pf[n] = (struct pollfd){ .fd = mb->clients[k].fd, .events = POLLIN };
                idx[n++] = k;
                pending |= tcp_request_len(&mb->clients[k]) != 0;
            }
        }
        int64_t left = deadline_us - now;
        int wait_ms = (left <= 0 || pending) ? 0 : (int)((left + 999) / 1000);
        int rc = poll(pf, n, wait_ms);
        if (rc < 0) {
            if (errno == EINTR) {
                return served;
            }
            return MC_ERR_IO;
        }
        if (pf[0].revents & (POLLERR | POLLNVAL)) {
            return MC_ERR_IO;
        }
        now = now_us64();
        /* The clients in turn, starting one further each poll, until the poll's work time is
         * spent: what a request costs (an event-log walk, a save) then bounds the poll, not
         * only how many requests there are; the rest wait for the next poll. */
        const int64_t work_end = now + (int64_t)MC_POSIX_MODBUS_POLL_WORK_MS * 1000;
        const nfds_t clients = n - 1u;
        for (nfds_t t = 0; t < clients; t++) {
            const nfds_t j = 1u + (mb->next_client + t) % clients;
            mc_posix_modbus_client_t *c = &mb->clients[idx[j]];
            if (pf[j].revents != 0 || tcp_request_len(c) != 0) {
                if (now_us64() >= work_end) {
                    mb->stats.deferred++;
                    continue;
                }
                served += tcp_client_io(mb, c, now);
            }
        }
        mb->next_client = clients > 0u ? (mb->next_client + 1u) % (unsigned)clients : 0u;
        /* Then the listen queue, at every poll whatever poll() said of it (a new client may take
         * the slot of one idle the longest; those served just now are not idle). */
        tcp_accept(mb, now);
        if (served > 0 || now_us64() >= deadline_us) {
            return served;
        }
    }
}

/* ------------------------------------------------------------------------- */
/* RTU                                                                        */
/* ------------------------------------------------------------------------- */

static speed_t speed_of(uint32_t baud)
{
    switch (baud) {
    case 1200: return B1200;
    case 2400: return B2400;
    case 4800: return B4800;
    default: return B9600;
    }
}

/* Put baud and parity (0 N, 1 E, 2 O) in force on the line, after the output has drained.
 * A device that cannot do parity (a pty) gets the speed alone. */
static int rtu_apply_line(int fd, uint32_t baud, uint8_t parity)
{
    struct termios tio;
    if (tcgetattr(fd, &tio) < 0) {
        return MC_ERR_IO;
    }
    cfsetispeed(&tio, speed_of(baud));
    cfsetospeed(&tio, speed_of(baud));
    tio.c_cflag &= (tcflag_t) ~(PARENB | PARODD | CSTOPB | CSIZE);
    tio.c_cflag |= CS8 | CREAD | CLOCAL;
    if (parity == 1u) {
        tio.c_cflag |= PARENB;
    } else if (parity == 2u) {
        tio.c_cflag |= PARENB | PARODD;
    }
    if (tcsetattr(fd, TCSADRAIN, &tio) == 0) {
        return MC_OK;
    }
    if (errno == EINVAL && parity != 0u) {
        /* A pty (Linux) refuses parity: keep the framing in step with the model, set the speed alone. */
        tio.c_cflag &= (tcflag_t) ~(PARENB | PARODD);
        if (tcsetattr(fd, TCSADRAIN, &tio) == 0) {
            return MC_OK;
        }
    }
    return MC_ERR_IO;
}

/* Queue a reply in the tty's output buffer (4 KiB on Linux, so a reply goes in at
 * once; a full buffer means the line is stuck, and the reply is given up). */
static int rtu_send(void *vctx, const uint8_t *adu, size_t len)
{
    mc_posix_modbus_t *mb = vctx;
    while (len > 0u) {
        ssize_t w = write(mb->fd, adu, len);
        if (w > 0) {
            adu += w;
            len -= (size_t)w;
        } else if (!(w < 0 && errno == EINTR)) {
            mb->io_error = MC_ERR_IO;
            return MC_ERR_IO;
        }
    }
    return MC_OK;
}

/* The framer's line callback: a write changed baud or parity and its reply is
 * queued. The change is made once the reply has left (rtu_line_pending()). */
static void rtu_line(void *vctx, uint32_t baud, uint8_t parity)
{
    mc_posix_modbus_t *mb = vctx;
    mb->line_pending = 1;
    mb->pending_baud = baud;
    mb->pending_parity = parity;
}

/* Apply a pending line change once the output queue is empty, so the reply goes
 * out at the old settings without blocking for its whole transmission (2 s for
 * 255 bytes at 1200 baud); TCSADRAIN then waits for the last character at most. */
static void rtu_line_pending(mc_posix_modbus_t *mb)
{
    if (!mb->line_pending) {
        return;
    }
    int queued = 0;
    if (ioctl(mb->fd, TIOCOUTQ, &queued) == 0 && queued > 0) {
        return;
    }
    mb->line_pending = 0;
    if (rtu_apply_line(mb->fd, mb->pending_baud, mb->pending_parity) < 0) {
        mb->io_error = MC_ERR_IO;
        return;
    }
    mb->baud = mb->pending_baud;
    mb->parity = mb->pending_parity;
    mb->stats.line_changes++;
}

int mc_posix_modbus_open_rtu(mc_posix_modbus_t *mb, mc_model_t *md, const char *device, int baud, char parity)
{
    if (mb == NULL || md == NULL || device == NULL) {
        return MC_ERR_INVAL;
    }
    mc_write_item_t items[2];
    size_t n = 0;
    if (baud != 0) {
        unsigned code = 0;
        for (unsigned c = 1; c <= 4u; c++) {
            if (mc_modbus_baud(c) == (uint32_t)baud) {
                code = c;
            }
        }
        if (code == 0u) {
            return MC_ERR_INVAL;
        }
        if (code != md->params.baud_code) {
            items[n] = (mc_write_item_t){ .u = (uint16_t)code, .qty = MC_QTY_BAUD };
            n++;
        }
    }
    if (parity != 0) {
        unsigned p;
        switch (parity) {
        case 'N': case 'n': p = 0; break;
        case 'E': case 'e': p = 1; break;
        case 'O': case 'o': p = 2; break;
        default: return MC_ERR_INVAL;
        }
        if (p != md->params.parity) {
            items[n] = (mc_write_item_t){ .u = (uint16_t)p, .qty = MC_QTY_PARITY };
            n++;
        }
    }
    if (n > 0u && mc_model_write(md, items, n, MC_SRC_LOCAL) != MC_OK) {
        return MC_ERR_INVAL;
    }
    const uint32_t line_baud = mc_modbus_baud(md->params.baud_code);
    const uint8_t line_parity = md->params.parity;
    if (line_baud == 0u || line_parity > 2u) {
        return MC_ERR_INVAL;
    }
    reset(mb, md);
    modbus_t *ctx = modbus_new_rtu(device, (int)line_baud, "NEO"[line_parity], 8, 1);
    if (ctx == NULL) {
        return MC_ERR_INVAL;
    }
    if (modbus_connect(ctx) < 0) {
        modbus_free(ctx);
        return MC_ERR_IO;
    }
    int fd = modbus_get_socket(ctx);
    if (fd < 0 || set_nonblock_cloexec(fd) < 0) {
        modbus_close(ctx);
        modbus_free(ctx);
        return MC_ERR_IO;
    }
    mb->ctx = ctx;
    mb->fd = fd;
    mb->baud = line_baud;
    mb->parity = line_parity;
    const mc_rtu_port_t port = { rtu_send, rtu_line, mb };
    if (mc_rtu_init(&mb->rtu, md, &port) != MC_OK) {
        modbus_close(ctx);
        modbus_free(ctx);
        reset(mb, md);
        return MC_ERR_INVAL;
    }
    tcflush(fd, TCIOFLUSH);
    mb->mode = MC_POSIX_MODBUS_RTU;
    return MC_OK;
}

/* mc_rtu_poll() at time t (CLOCK_MONOTONIC µs); counts what was served. */
static int rtu_framer_poll_at(mc_posix_modbus_t *mb, uint32_t t)
{
    int rc = mc_rtu_poll(&mb->rtu, t);
    if (rc == 1) {
        mb->stats.requests++;
        return 1;
    }
    return 0; /* 0 nothing due, 2 dropped, < 0 send failed (counted in io_error) */
}

/* mc_rtu_poll() with the current time. */
static int rtu_framer_poll(mc_posix_modbus_t *mb)
{
    return rtu_framer_poll_at(mb, (uint32_t)now_us64());
}

static int rtu_poll(mc_posix_modbus_t *mb, int64_t deadline_us)
{
    int served = 0;
    /* A frame that ended while the caller was away is served before new bytes can run into it. */
    served += rtu_framer_poll(mb);
    for (;;) {
        rtu_line_pending(mb);
        if (mb->io_error < 0) {
            int e = mb->io_error;
            mb->io_error = 0;
            return served > 0 ? served : e;
        }
        const int64_t now = now_us64();
        int64_t wait_us = deadline_us - now;
        if (mb->rtu.have_frame) {
            /* Wake when the frame under way will have ended (3.5 characters after its last byte). */
            int64_t end = (int64_t)(uint32_t)(mb->rtu.last_us + mb->rtu.t35_us - (uint32_t)now);
            if (end > 0x7FFFFFFF) {
                end = 0;
            }
            if (end < wait_us) {
                wait_us = end;
            }
        }
        if (served > 0 && !mb->rtu.have_frame) {
            return served;
        }
        if (mb->line_pending && wait_us > 1000) {
            wait_us = 1000; /* look at the output queue again soon */
        }
        if (wait_us < 0) {
            wait_us = 0;
        }
        struct pollfd pf = { .fd = mb->fd, .events = POLLIN };
        int rc = poll(&pf, 1, (int)((wait_us + 999) / 1000));
        if (rc < 0 && errno != EINTR) {
            return served > 0 ? served : MC_ERR_IO;
        }
        if (rc > 0 && (pf.revents & (POLLIN | POLLHUP | POLLERR))) {
            uint8_t buf[512];
            ssize_t r = read(mb->fd, buf, sizeof(buf));
            if (r > 0) {
                const uint32_t t = (uint32_t)now_us64();
                /* These bytes are stamped t: a frame whose 3.5-character silence had passed by
                 * then has ended, and is served before they are fed (fed first, they would
                 * start a new frame over it and it would be dropped as an overrun: a broadcast,
                 * which the master follows at once with its next request, was lost so). */
                served += rtu_framer_poll_at(mb, t);
                for (ssize_t k = 0; k < r; k++) {
                    mc_rtu_rx_byte(&mb->rtu, buf[k], t);
                }
            } else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                /* The line is gone (e.g. EIO: no other end of a pty). Do not spin: wait out the time. */
                int64_t left = deadline_us - now_us64();
                if (left > 0) {
                    struct timespec ts = { (time_t)(left / 1000000), (long)(left % 1000000) * 1000 };
                    nanosleep(&ts, NULL);
                }
                return served > 0 ? served : MC_ERR_IO;
            }
        } else if (rc > 0 && (pf.revents & POLLNVAL)) {
            return served > 0 ? served : MC_ERR_IO;
        }
        served += rtu_framer_poll(mb);
        if (now_us64() >= deadline_us) {
            return served;
        }
    }
}

/* ------------------------------------------------------------------------- */

int mc_posix_modbus_poll(mc_posix_modbus_t *mb, int timeout_ms)
{
    if (mb == NULL || mb->model == NULL || mb->fd < 0) {
        return MC_ERR_INVAL;
    }
    const int64_t deadline = now_us64() + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000;
    if (mb->mode == MC_POSIX_MODBUS_TCP) {
        return tcp_poll(mb, deadline);
    }
    if (mb->mode == MC_POSIX_MODBUS_RTU) {
        return rtu_poll(mb, deadline);
    }
    return MC_ERR_INVAL;
}

void mc_posix_modbus_close(mc_posix_modbus_t *mb)
{
    if (mb == NULL || mb->mode == MC_POSIX_MODBUS_CLOSED) {
        return;
    }
    if (mb->mode == MC_POSIX_MODBUS_TCP) {
        for (unsigned k = 0; k < MC_POSIX_MODBUS_MAX_CLIENTS; k++) {
            if (mb->clients[k].fd >= 0) {
                close(mb->clients[k].fd);
                mb->clients[k].fd = -1;
                mc_session_end(&mb->clients[k].session);
            }
        }
        if (mb->fd >= 0) {
            close(mb->fd); /* the listening socket is ours, not the context's */
        }
        if (mb->ctx != NULL) {
            modbus_free((modbus_t *)mb->ctx);
        }
    } else {
        if (mb->ctx != NULL) {
            modbus_close((modbus_t *)mb->ctx); /* closes the line (and restores its termios) */
            modbus_free((modbus_t *)mb->ctx);
        }
    }
    mb->ctx = NULL;
    mb->fd = -1;
    mb->mode = MC_POSIX_MODBUS_CLOSED;
}

int mc_posix_modbus_set_map(mc_posix_modbus_t *mb, const mc_regmap_t *map)
{
    if (mb == NULL || mb->fd < 0 || map == NULL || mc_regmap_check(map) != MC_OK) {
        return MC_ERR_INVAL;
    }
    if (mb->mode == MC_POSIX_MODBUS_RTU) {
        return mc_rtu_set_map(&mb->rtu, map);
    }
    mb->map = map;
    return MC_OK;
}

int mc_posix_modbus_add_unit(mc_posix_modbus_t *mb, uint8_t unit, const mc_regmap_t *map)
{
    if (mb == NULL || mb->fd < 0) {
        return MC_ERR_INVAL;
    }
    if (mb->mode == MC_POSIX_MODBUS_RTU) {
        return mc_rtu_add_unit(&mb->rtu, unit, map);
    }
    /* TCP: the same rules as the RTU line's (mc_rtu_add_unit()); 0 and 255 are the meter's own. */
    return mc_modbus_unit_set(mb->units, mb->model->params.address, unit, map);
}
