/*
 * POSIX port: DL/T 645-2007 slave on a serial device or pty (8E1 by default) and on TCP
 * (raw frames, as gateways carry them). The protocol is the library's (mc_dlt645.h).
 * SPDX-License-Identifier: MIT
 */
#define _DEFAULT_SOURCE /* cfmakeraw; implies _POSIX_C_SOURCE 200809L */

#include "mc_posix_dlt645.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static uint32_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
}

static speed_t speed_of(uint32_t baud)
{
    switch (baud) {
    case 1200:
        return B1200;
    case 4800:
        return B4800;
    case 9600:
        return B9600;
    default:
        return B2400;
    }
}

/* Raw 8-bit line at baud with the parity; a device that refuses the parity (a pty) runs
 * without it. Returns 0, or -1 if even that failed. */
static int set_line(mc_posix_dlt645_t *p, uint32_t baud)
{
    struct termios tio;
    if (tcgetattr(p->fd, &tio) != 0) {
        return -1;
    }
    cfmakeraw(&tio);
    tio.c_cflag |= CLOCAL | CREAD;
    tio.c_cflag &= (tcflag_t) ~(PARENB | PARODD | CSTOPB | CSIZE);
    tio.c_cflag |= CS8;
    tio.c_cc[VMIN] = 0;
    tio.c_cc[VTIME] = 0;
    cfsetispeed(&tio, speed_of(baud));
    cfsetospeed(&tio, speed_of(baud));
    struct termios plain = tio;
    if (p->parity == 'E') {
        tio.c_cflag |= PARENB;
    } else if (p->parity == 'O') {
        tio.c_cflag |= PARENB | PARODD;
    }
    p->parity_applied = 0;
    if (tcsetattr(p->fd, TCSADRAIN, &tio) == 0) {
        struct termios check;
        p->parity_applied = p->parity == 'N' ||
                            (tcgetattr(p->fd, &check) == 0 && (check.c_cflag & PARENB) != 0);
        p->baud = baud;
        return 0;
    }
    if (tcsetattr(p->fd, TCSADRAIN, &plain) == 0) { /* a pty: the speed alone */
        p->baud = baud;
        return 0;
    }
    return -1;
}

static int write_all(int fd, const uint8_t *b, size_t n)
{
    size_t done = 0;
    int tries = 0;
    while (done < n) {
        const ssize_t w = write(fd, b + done, n - done);
        if (w > 0) {
            done += (size_t)w;
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) && tries++ < 200) {
            struct pollfd pf = {fd, POLLOUT, 0};
            (void)poll(&pf, 1, 10);
            continue;
        }
        return MC_ERR_IO;
    }
    return MC_OK;
}

static int serial_send(void *ctx, const uint8_t *frame, size_t len)
{
    mc_posix_dlt645_t *p = ctx;
    return write_all(p->fd, frame, len);
}

static void serial_line(void *ctx, uint32_t baud)
{
    mc_posix_dlt645_t *p = ctx;
    (void)tcdrain(p->fd); /* the reply went out at the old rate */
    (void)set_line(p, baud);
}

/* A new address (15H): every slave of the instance takes it. */
static void address_changed(void *ctx, const uint8_t a[6])
{
    mc_posix_dlt645_t *p = ctx;
    memcpy(p->address, a, 6);
    memcpy(p->cfg.address, a, 6);
    for (int k = 0; k < MC_POSIX_DLT645_MAX_CLIENTS; k++) {
        memcpy(p->slave[k].cfg.address, a, 6);
    }
}

static void reset(mc_posix_dlt645_t *p)
{
    memset(p, 0, sizeof(*p));
    p->fd = -1;
    for (int k = 0; k < MC_POSIX_DLT645_MAX_CLIENTS; k++) {
        p->client_fd[k] = -1;
    }
}

int mc_posix_dlt645_open_serial(mc_posix_dlt645_t *p, mc_model_t *model, const mc_dlt645_config_t *cfg,
                                const char *device, char parity)
{
    if (p == NULL || model == NULL || device == NULL || (parity != 'N' && parity != 'E' && parity != 'O')) {
        return MC_ERR_INVAL;
    }
    reset(p);
    if (cfg != NULL) {
        p->cfg = *cfg;
    } else {
        mc_dlt645_config_default(&p->cfg);
    }
    p->model = model;
    p->parity = parity;
    mc_dlt645_port_t port = {serial_send, serial_line, address_changed, p};
    if (mc_dlt645_init(&p->slave[0], model, &p->cfg, &port) != MC_OK) {
        return MC_ERR_INVAL;
    }
    memcpy(p->address, p->cfg.address, 6);
    p->fd = open(device, O_RDWR | O_NOCTTY | O_NONBLOCK);
    if (p->fd < 0) {
        return MC_ERR_IO;
    }
    if (set_line(p, p->cfg.baud) != 0) {
        const int e = errno;
        close(p->fd);
        p->fd = -1;
        errno = e;
        return MC_ERR_IO;
    }
    p->mode = MC_POSIX_DLT645_SERIAL;
    return MC_OK;
}

int mc_posix_dlt645_open_tcp(mc_posix_dlt645_t *p, mc_model_t *model, const mc_dlt645_config_t *cfg,
                             const char *host, int port)
{
    if (p == NULL || model == NULL || host == NULL || port < 0 || port > 65535) {
        return MC_ERR_INVAL;
    }
    reset(p);
    if (cfg != NULL) {
        p->cfg = *cfg;
    } else {
        mc_dlt645_config_default(&p->cfg);
    }
    p->model = model;
    mc_dlt645_t probe;
    if (mc_dlt645_init(&probe, model, &p->cfg, NULL) != MC_OK) {
        return MC_ERR_INVAL;
    }
    memcpy(p->address, p->cfg.address, 6);
    mc_auth_guard_init(&p->guard, MC_IFACE_DLT645);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        return MC_ERR_INVAL;
    }
    p->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0) {
        return MC_ERR_IO;
    }
    const int one = 1;
    (void)setsockopt(p->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    socklen_t sl = sizeof(sa);
    if (bind(p->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(p->fd, 8) != 0 ||
        getsockname(p->fd, (struct sockaddr *)&sa, &sl) != 0) {
        const int e = errno;
        close(p->fd);
        p->fd = -1;
        errno = e;
        return MC_ERR_IO;
    }
    p->port = ntohs(sa.sin_port);
    p->mode = MC_POSIX_DLT645_TCP;
    return MC_OK;
}

/* A TCP slave's reply goes to its own connection (slot k). */
static int slot_send(mc_posix_dlt645_t *p, int k, const uint8_t *frame, size_t len)
{
    return p->client_fd[k] >= 0 ? write_all(p->client_fd[k], frame, len) : MC_ERR_IO;
}

static void close_client(mc_posix_dlt645_t *p, int k)
{
    if (p->client_fd[k] >= 0) {
        close(p->client_fd[k]);
        p->client_fd[k] = -1;
    }
    mc_session_end(&p->slave[k].session);
}

static int serve_tcp_client(mc_posix_dlt645_t *p, int k)
{
    uint8_t buf[512];
    const ssize_t n = read(p->client_fd[k], buf, sizeof(buf));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        close_client(p, k);
        return 0;
    }
    int served = 0;
    mc_dlt645_t *d = &p->slave[k];
    d->bcast_done = p->bcast_done; /* one broadcast-time allowance for all connections */
    d->bcast_at_ms = p->bcast_at_ms;
    for (ssize_t i = 0; i < n; i++) {
        const uint32_t t = now_us();
        mc_dlt645_rx_byte(d, buf[i], t);
        if (d->ready) {
            uint8_t reply[MC_DLT645_REPLY_MAX];
            const int r = mc_dlt645_handle_frame(d, d->buf, d->len, reply);
            d->ready = 0;
            d->len = 0;
            served++;
            if (r > 0 && slot_send(p, k, reply, (size_t)r) != MC_OK) {
                close_client(p, k);
                break;
            }
            d->next_baud_pending = 0; /* no line to change on TCP */
        }
    }
    p->bcast_done = d->bcast_done;
    p->bcast_at_ms = d->bcast_at_ms;
    return served;
}

static void accept_clients(mc_posix_dlt645_t *p)
{
    for (;;) {
        const int fd = accept(p->fd, NULL, NULL);
        if (fd < 0) {
            return;
        }
        (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        int k = 0;
        while (k < MC_POSIX_DLT645_MAX_CLIENTS && p->client_fd[k] >= 0) {
            k++;
        }
        if (k == MC_POSIX_DLT645_MAX_CLIENTS) {
            close(fd); /* full */
            continue;
        }
        const int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        p->client_fd[k] = fd;
        mc_dlt645_port_t port = {NULL, NULL, address_changed, p};
        mc_dlt645_config_t c = p->cfg;
        memcpy(c.address, p->address, 6);
        (void)mc_dlt645_init(&p->slave[k], p->model, &c, &port);
        p->slave[k].session.guard = &p->guard; /* one guard for every connection */
    }
}

int mc_posix_dlt645_poll(mc_posix_dlt645_t *p, int timeout_ms)
{
    if (p == NULL || p->mode == MC_POSIX_DLT645_CLOSED) {
        return MC_ERR_INVAL;
    }
    struct pollfd pf[1 + MC_POSIX_DLT645_MAX_CLIENTS];
    int n = 0;
    pf[n++] = (struct pollfd){p->fd, POLLIN, 0};
    if (p->mode == MC_POSIX_DLT645_TCP) {
        for (int k = 0; k < MC_POSIX_DLT645_MAX_CLIENTS; k++) {
            pf[n++] = (struct pollfd){p->client_fd[k], POLLIN, 0}; /* -1: ignored by poll() */
        }
    }
    int wait = timeout_ms;
    if (p->mode == MC_POSIX_DLT645_SERIAL && p->slave[0].len > 0u && wait > 50) {
        wait = 50; /* a partial frame: come back to time it out */
    }
    const int r = poll(pf, (nfds_t)n, wait < 0 ? 0 : wait);
    if (r < 0 && errno != EINTR) {
        return MC_ERR_IO;
    }
    int served = 0;
    if (p->mode == MC_POSIX_DLT645_SERIAL) {
        mc_dlt645_t *d = &p->slave[0];
        if (r > 0 && (pf[0].revents & POLLIN)) {
            uint8_t buf[256];
            const ssize_t got = read(p->fd, buf, sizeof(buf));
            for (ssize_t i = 0; i < got; i++) {
                const uint32_t t = now_us();
                mc_dlt645_rx_byte(d, buf[i], t);
                const int s = mc_dlt645_poll(d, t);
                if (s == 1) {
                    served++;
                }
            }
        }
        const int s = mc_dlt645_poll(d, now_us());
        if (s == 1) {
            served++;
        }
    } else {
        if (r > 0 && (pf[0].revents & POLLIN)) {
            accept_clients(p);
        }
        for (int k = 0; k < MC_POSIX_DLT645_MAX_CLIENTS; k++) {
            if (p->client_fd[k] >= 0 && r > 0 && (pf[1 + k].revents & (POLLIN | POLLHUP | POLLERR))) {
                served += serve_tcp_client(p, k);
            }
            if (p->client_fd[k] >= 0) {
                (void)mc_dlt645_poll(&p->slave[k], now_us()); /* inter-byte timeout */
            }
        }
    }
    p->frames += (uint64_t)served;
    return served;
}

void mc_posix_dlt645_close(mc_posix_dlt645_t *p)
{
    if (p == NULL) {
        return;
    }
    for (int k = 0; k < MC_POSIX_DLT645_MAX_CLIENTS; k++) {
        if (p->client_fd[k] >= 0) {
            close(p->client_fd[k]);
            p->client_fd[k] = -1;
        }
    }
    if (p->fd >= 0) {
        close(p->fd);
    }
    p->fd = -1;
    p->mode = MC_POSIX_DLT645_CLOSED;
}
