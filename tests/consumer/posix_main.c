/*
 * A program using the installed POSIX port (find_package(metercore COMPONENTS posix) and
 * metercore::posix, or pkg-config metercore-posix), with the headers as installed:
 *   - storage in a file-backed NVM (mc_posix_nvm): the Modbus address set to 17 is saved,
 *     and a second mount of the same file reads it back;
 *   - with MC_CONSUMER_MODBUS (the port was built with libmodbus): a Modbus TCP server
 *     (mc_posix_modbus) on a port the system picks, asked for that address (FC03 0001H)
 *     by a plain socket client.
 *
 *   posix_consumer STATE_FILE       (the file is created, used and removed)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "metercore/metercore.h"
#include "metercore/posix/mc_posix_nvm.h"
#ifdef MC_CONSUMER_MODBUS
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "metercore/posix/mc_posix_modbus.h"
#endif

#define T0 1000000u /* a fixed local time: nothing here depends on the host clock */

static mc_meter_t meter;
static mc_tariff_t tariff;
static mc_model_t model;
static mc_storage_t storage;

static mc_time_t now_hook(void *ctx)
{
    (void)ctx;
    return T0;
}

/* Open the file and mount storage on it over a fresh meter, tariff and model. */
static int start(mc_posix_nvm_t *file, const char *path)
{
    mc_meter_config_t mc;
    mc_meter_config_default(&mc);
    mc.u_scale = 400.0f / 8388608.0f;
    mc.i_scale = 100.0f / 8388608.0f;
    mc_tariff_config_t tc;
    mc_tariff_config_default(&tc);
    mc_model_config_t mdc;
    mc_model_config_default(&mdc);
    mc_model_hooks_t hooks;
    memset(&hooks, 0, sizeof(hooks));
    hooks.on_change = mc_storage_param_changed;
    hooks.commit = mc_storage_commit; /* acknowledged means saved */
    hooks.now = now_hook;
    hooks.ctx = &storage;
    mc_storage_config_t sc;
    mc_storage_config_default(&sc);
    int err;
    if ((err = mc_meter_init(&meter, &mc)) != MC_OK || (err = mc_tariff_init(&tariff, &tc, T0)) != MC_OK ||
        (err = mc_model_init(&model, &mdc, &hooks, &meter, &tariff, NULL)) != MC_OK ||
        (err = mc_posix_nvm_open(file, path, 16, 4096, 4, 0xFF, &sc.nvm)) != MC_OK) {
        return err;
    }
    return mc_storage_mount(&storage, &sc, &meter, &tariff, &model);
}

#ifdef MC_CONSUMER_MODBUS
/* FC03 of one register through the server, served by polls in between; the value or -1. */
static int read_register(mc_posix_modbus_t *mb, unsigned unit, unsigned reg)
{
    const int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)mb->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const unsigned char req[12] = {0, 1, 0, 0, 0, 6, (unsigned char)unit, 3, (unsigned char)(reg >> 8),
                                   (unsigned char)reg, 0, 1};
    unsigned char rsp[16];
    ssize_t got = 0;
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) != 0 || write(s, req, sizeof(req)) != 12) {
        got = -1;
    }
    /* Counted, not timed: up to 500 polls of at most 20 ms until the 11-byte answer is in. */
    for (int k = 0; got >= 0 && got < 11 && k < 500; k++) {
        mc_posix_modbus_poll(mb, 20);
        ssize_t r = recv(s, rsp + got, sizeof(rsp) - (size_t)got, MSG_DONTWAIT);
        if (r > 0) {
            got += r;
        } else if (r == 0) {
            got = -1;
        }
    }
    if (s >= 0) {
        close(s);
    }
    return got == 11 && rsp[7] == 3 && rsp[8] == 2 ? rsp[9] << 8 | rsp[10] : -1;
}
#endif

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s STATE_FILE\n", argv[0]);
        return 2;
    }
    const char *path = argv[1];
    unlink(path);
    mc_posix_nvm_t file;
    int err = start(&file, path);
    const mc_write_item_t addr = {.u = 17, .qty = MC_QTY_ADDRESS};
    if (err == MC_OK) {
        err = mc_model_write(&model, &addr, 1, MC_SRC_LOCAL);
    }
    if (err == MC_OK) {
        err = mc_storage_poll(&storage, T0); /* saves the changed parameter */
    }
    if (err == MC_OK) {
        err = mc_storage_power_fail(&storage, T0);
    }
    mc_posix_nvm_close(&file);
    if (err != MC_OK) {
        fprintf(stderr, "posix consumer: first mount and save: %s\n", mc_strerror(err));
        return 1;
    }
    err = start(&file, path); /* a fresh model: address 1 until the mount restores it */
    const unsigned restored = model.params.address;
    printf("posix consumer: mc_posix_nvm file %s mounted again (%s), address %u restored\n", path, mc_strerror(err),
           restored);
    int rc = err == MC_OK && restored == 17u ? 0 : 1;
#ifdef MC_CONSUMER_MODBUS
    mc_posix_modbus_t mb;
    memset(&mb, 0, sizeof(mb));
    err = mc_posix_modbus_open_tcp(&mb, &model, "127.0.0.1", 0);
    const int v = err == MC_OK ? read_register(&mb, 17, 1) : -1;
    printf("posix consumer: mc_posix_modbus TCP on 127.0.0.1:%d (%s): unit 17 reads address %d\n", mb.port,
           mc_strerror(err), v);
    rc |= v == 17 ? 0 : 1;
    mc_posix_modbus_close(&mb);
#endif
    mc_posix_nvm_close(&file);
    unlink(path);
    return rc;
}
