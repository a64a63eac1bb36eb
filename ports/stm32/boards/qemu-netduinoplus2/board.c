/*
 * Board: qemu-netduinoplus2, the firmware under QEMU's `-M netduinoplus2`
 * (STM32F405, Cortex-M4F, 168 MHz), as ../shared/reference/qemu-stm32.md
 * describes what QEMU 7.2 emulates of it:
 * - no clock set-up: QEMU runs the core at 168 MHz and answers no ready flag;
 * - SysTick is the only time base (milliseconds, microseconds from its counter,
 *   Modbus t3.5 and the pulse edges included): TIM2..5 count at the wrong rate;
 * - a synthetic sample source replaces the ADC (whose EOC never sets): a known
 *   load of 230 V, 5 A, PF 0.5 inductive, 50 Hz, as an ideal 24-bit converter
 *   sampling at 4 kHz would see it, paced by SysTick so that energy grows in
 *   real time; built for the 3P4W firmware (MC_FW_3P4W), a known three-phase
 *   load instead (QEMU_3P_* below: three voltages 120° apart, three different
 *   loads, the neutral current they return), as frames U1 U2 U3 I1 I2 I3 IN of
 *   simultaneous samples;
 * - RAM replaces the flash (whose program and erase do nothing): 8 sectors of
 *   4 KiB, erased at boot;
 * - USART2 (the second -serial) is the RS485 line, transmit polled (QEMU never
 *   raises TXE/TC interrupts); USART1 (the first -serial) is the log, where the
 *   display's screens are written too;
 * - the real-time clock counts SysTick seconds from 2026-01-01 00:00;
 * - the two keys are typed on the log UART (the first -serial), as metersim's
 *   dashboard takes them: `1`/`2` short press of K1/K2 (held 100 ms), `!`/`@` long
 *   press (held 3.1 s), `3` both keys (100 ms); each press is followed by 100 ms
 *   released, and goes through the same debouncer as real keys;
 * - mc_board_fatal() ends QEMU through semihosting (exit code 1).
 * Pins are those of the generic-f405 board: GPIO writes are dropped by QEMU.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <string.h>

#include "mc_board.h"
#include "mc_f4_board_common.h"
#include "../generic-f405/pins.h"
#include "metercore/mc_calendar.h"

#define QEMU_SAMPLE_HZ 4000u
#define QEMU_BLOCK 80u                /* one 50 Hz cycle */
#define QEMU_U_FULL_SCALE 500.0f      /* volts at code 2^23 */
#define QEMU_I_FULL_SCALE 100.0f      /* amps at code 2^23 */
#define QEMU_LOAD_U 230.0f
#define QEMU_LOAD_I 5.0f
#define QEMU_LOAD_PHI_DEG 60.0f       /* PF 0.5, current lagging */
#if MC_FW_3P4W
/* The three-phase load (tests/stm32/qemu_modbus.sh 3p4w checks the readings against
 * these values): phase k's voltage QEMU_3P_U[k] at angle QEMU_3P_UA[k] to U1 (ABC:
 * U2 lags by 120°), its current QEMU_3P_I[k] lagging its voltage by QEMU_3P_PHI[k]:
 * L1 PF 0.5 inductive, L2 PF 1, L3 PF 0.8 capacitive. The neutral returns the sum:
 * IN = -(I1 + I2 + I3), computed from the waveforms before rounding. */
#define QEMU_3P_CHANNELS 7u
static const float QEMU_3P_U[3] = {230.0f, 232.0f, 228.0f};
static const float QEMU_3P_UA[3] = {0.0f, -120.0f, 120.0f};
static const float QEMU_3P_I[3] = {5.0f, 10.0f, 2.0f};
static const float QEMU_3P_PHI[3] = {60.0f, 0.0f, -36.8698976f}; /* atan(0.75): PF 0.8 leading */
#endif
#define QEMU_NVM_SECTORS 8u
#define QEMU_NVM_SECTOR_SIZE 4096u
#define QEMU_START_TIME 820540800u    /* 2026-01-01 00:00:00 */

static const mc_board_info_t g_info = {
    .name = "qemu-netduinoplus2",
    .sample_hz = QEMU_SAMPLE_HZ,
    .u_scale = QEMU_U_FULL_SCALE / 8388608.0f,
    .i_scale = QEMU_I_FULL_SCALE / 8388608.0f,
    .block = QEMU_BLOCK,
    .has_flash_nvm = 0u,
#if MC_FW_3P4W
    .wiring = MC_WIRING_3P4W,
    .neutral = 1u,
    .channel_delay_us = NULL, /* an ideal simultaneous converter */
#endif
};

#if MC_FW_3P4W
static int32_t g_tab[QEMU_BLOCK * QEMU_3P_CHANNELS];
#else
static int32_t g_tab_v[QEMU_BLOCK];
static int32_t g_tab_i[QEMU_BLOCK];
#endif
static uint64_t g_samples_out;   /* samples handed out */
static uint32_t g_start_us;      /* time of sample 0 */
static uint32_t g_last_us;       /* µs clock at the previous mc_board_samples() */
static uint64_t g_elapsed_us;    /* since sample 0 */
static mc_time_t g_clock_base;   /* clock at g_clock_ms */
static uint32_t g_clock_ms;
static uint8_t g_nvm_mem[QEMU_NVM_SECTORS * QEMU_NVM_SECTOR_SIZE];

const mc_board_info_t *mc_board_info(void) { return &g_info; }
uint32_t mc_board_us(void) { return mc_f4_systick_us(); }
uint32_t mc_board_ms(void) { return mc_f4_ms(); }

/* Keys typed on the log UART: one press at a time, from the SysTick interrupt (the
 * receive interrupt queues the characters). */
static uint8_t g_key_mask;     /* keys held now */
static uint32_t g_key_until;   /* end of the hold, then of the 100 ms release */
static uint8_t g_key_phase;    /* 0 idle, 1 held, 2 released gap */

static uint8_t typed_keys(uint32_t now_ms)
{
    if (g_key_phase != 0u && (int32_t)(now_ms - g_key_until) < 0) {
        return g_key_phase == 1u ? g_key_mask : 0u;
    }
    if (g_key_phase == 1u) {
        g_key_phase = 2u;
        g_key_until = now_ms + 100u;
        return 0u;
    }
    g_key_phase = 0u;
    uint8_t ch;
    uint32_t t;
    while (mc_stm32_rxq_pop(&mc_f4_board.log.rxq, &ch, &t)) {
        uint32_t hold = 100u;
        switch (ch) {
        case '1': g_key_mask = MC_PANEL_K1; break;
        case '2': g_key_mask = MC_PANEL_K2; break;
        case '!': g_key_mask = MC_PANEL_K1; hold = MC_PANEL_LONG_MS + 100u; break;
        case '@': g_key_mask = MC_PANEL_K2; hold = MC_PANEL_LONG_MS + 100u; break;
        case '3': g_key_mask = MC_PANEL_K1 | MC_PANEL_K2; break;
        default: continue; /* anything else (line ends) is ignored */
        }
        g_key_phase = 1u;
        g_key_until = now_ms + hold;
        return g_key_mask;
    }
    return 0u;
}

void SysTick_Handler(void);
void SysTick_Handler(void)
{
    mc_f4_systick_irq();
    mc_f4_board_tick(mc_f4_ms());
    (void)mc_f4_board_pulse_service(mc_f4_systick_us(), NULL);
}

void HardFault_Handler(void);
void HardFault_Handler(void)
{
    mc_board_fatal("hard fault");
}

void mc_board_init(void)
{
    mc_f4_systick_init(MC_F4_SYSCLK_HZ);
    mc_f4_board_config_t c;
    generic_f405_pins(&c);
    c.rs485_tx_interrupt = 0u; /* QEMU raises no TXE/TC interrupt */
    c.has_keys = 1u;
    c.raw_keys = typed_keys;
    c.log_rx = 1u;
    c.now_us = mc_board_us;
    if (mc_f4_board_common_init(&c) != 0) {
        mc_board_fatal("board init");
    }
    /* One cycle of the load: the code nearest to the instantaneous value. */
    const float two_pi = 6.28318530718f;
#if MC_FW_3P4W
    const float deg = two_pi / 360.0f;
    for (uint32_t k = 0; k < QEMU_BLOCK; k++) {
        const float th = two_pi * (float)k / (float)QEMU_BLOCK;
        int32_t *fr = &g_tab[k * QEMU_3P_CHANNELS];
        float isum = 0.0f;
        for (unsigned ph = 0; ph < 3u; ph++) {
            const float ua = th + QEMU_3P_UA[ph] * deg;
            const float u = QEMU_3P_U[ph] * 1.41421356237f * sinf(ua);
            const float i = QEMU_3P_I[ph] * 1.41421356237f * sinf(ua - QEMU_3P_PHI[ph] * deg);
            fr[ph] = (int32_t)lroundf(u / g_info.u_scale);
            fr[3u + ph] = (int32_t)lroundf(i / g_info.i_scale);
            isum += i;
        }
        fr[6] = (int32_t)lroundf(-isum / g_info.i_scale);
    }
#else
    const float phi = QEMU_LOAD_PHI_DEG * two_pi / 360.0f;
    const float vpk = QEMU_LOAD_U * 1.41421356237f / g_info.u_scale;
    const float ipk = QEMU_LOAD_I * 1.41421356237f / g_info.i_scale;
    for (uint32_t k = 0; k < QEMU_BLOCK; k++) {
        const float th = two_pi * (float)k / (float)QEMU_BLOCK;
        g_tab_v[k] = (int32_t)lroundf(vpk * sinf(th));
        g_tab_i[k] = (int32_t)lroundf(ipk * sinf(th - phi));
    }
#endif
    memset(g_nvm_mem, 0xFF, sizeof(g_nvm_mem));
    g_clock_base = QEMU_START_TIME;
    g_clock_ms = mc_f4_ms();
    g_start_us = mc_f4_systick_us();
    g_last_us = g_start_us;
    g_elapsed_us = 0u;
    g_samples_out = 0u;
}

/* Whether the next block is complete: once its last sample's time has passed. The µs
 * clock wraps after 71 minutes: accumulate its steps into 64 bits. */
static int block_due(void)
{
    const uint32_t now = mc_f4_systick_us();
    const int32_t step = (int32_t)(now - g_last_us);
    if (step > 0) { /* never backwards, whatever the clock does */
        g_elapsed_us += (uint32_t)step;
        g_last_us = now;
    }
    const uint64_t due = g_elapsed_us * QEMU_SAMPLE_HZ / 1000000u;
    return due >= g_samples_out + QEMU_BLOCK;
}

#if MC_FW_3P4W
size_t mc_board_frames(int32_t *frames)
{
    if (!block_due()) {
        return 0u;
    }
    memcpy(frames, g_tab, sizeof(g_tab));
    g_samples_out += QEMU_BLOCK;
    return QEMU_BLOCK;
}
#else
size_t mc_board_samples(int32_t *v, int32_t *i)
{
    if (!block_due()) {
        return 0u;
    }
    memcpy(v, g_tab_v, sizeof(g_tab_v));
    memcpy(i, g_tab_i, sizeof(g_tab_i));
    g_samples_out += QEMU_BLOCK;
    return QEMU_BLOCK;
}
#endif

uint32_t mc_board_sample_overruns(void) { return 0u; }

int mc_board_pulse(const mc_pulse_t *p, uint32_t latency_us)
{
    /* SysTick applies the edges, to the millisecond */
    return mc_stm32_edges_pulse(&mc_f4_board.pulse_edges, p, g_start_us, QEMU_SAMPLE_HZ, latency_us);
}

mc_time_t mc_board_now(void)
{
    return g_clock_base + (mc_f4_ms() - g_clock_ms) / 1000u;
}

int mc_board_set_clock(mc_time_t t)
{
    if (t > MC_TIME_MAX) {
        return MC_ERR_RANGE;
    }
    const uint32_t ms = mc_f4_ms();
    g_clock_base = t;
    g_clock_ms = ms - (ms - g_clock_ms) % 1000u; /* keep the second's phase */
    return MC_OK;
}

int mc_board_clock_valid(void)
{
    return 1; /* a known synthetic clock */
}

static int ram_read(void *ctx, uint32_t sector, uint32_t off, void *buf, uint32_t size)
{
    (void)ctx;
    if (sector >= QEMU_NVM_SECTORS || off > QEMU_NVM_SECTOR_SIZE || size > QEMU_NVM_SECTOR_SIZE - off) {
        return MC_ERR_IO;
    }
    memcpy(buf, &g_nvm_mem[sector * QEMU_NVM_SECTOR_SIZE + off], size);
    return MC_OK;
}

static int ram_prog(void *ctx, uint32_t sector, uint32_t off, const void *buf, uint32_t size)
{
    (void)ctx;
    if (sector >= QEMU_NVM_SECTORS || off > QEMU_NVM_SECTOR_SIZE || size > QEMU_NVM_SECTOR_SIZE - off) {
        return MC_ERR_IO;
    }
    const uint8_t *b = buf;
    uint8_t *m = &g_nvm_mem[sector * QEMU_NVM_SECTOR_SIZE + off];
    for (uint32_t k = 0; k < size; k++) {
        m[k] &= b[k]; /* flash semantics: programming only clears bits */
    }
    return MC_OK;
}

static int ram_erase(void *ctx, uint32_t sector)
{
    (void)ctx;
    if (sector >= QEMU_NVM_SECTORS) {
        return MC_ERR_IO;
    }
    memset(&g_nvm_mem[sector * QEMU_NVM_SECTOR_SIZE], 0xFF, QEMU_NVM_SECTOR_SIZE);
    return MC_OK;
}

void mc_board_nvm(mc_nvm_t *nvm)
{
    memset(nvm, 0, sizeof(*nvm));
    nvm->read = ram_read;
    nvm->prog = ram_prog;
    nvm->erase = ram_erase;
    nvm->sector_size = QEMU_NVM_SECTOR_SIZE;
    nvm->sector_count = QEMU_NVM_SECTORS;
    nvm->prog_size = 4u;
    nvm->erase_value = 0xFFu;
}

/* The display: each new screen as one log line "LCD |line 1|line 2|line 3|" (a log
 * cannot blink: flashing characters are shown as they are). */
void mc_board_display(const mc_panel_screen_t *s)
{
    char line[8u + MC_PANEL_LINES * (MC_PANEL_COLS + 1u) + 2u];
    size_t n = 0;
    memcpy(line, "LCD |", 5u);
    n = 5u;
    for (unsigned r = 0; r < MC_PANEL_LINES; r++) {
        const size_t len = strlen(s->text[r]);
        memcpy(&line[n], s->text[r], len);
        n += len;
        line[n++] = '|';
    }
    line[n] = '\0';
    mc_board_log(line);
}

void mc_board_display_tick(uint32_t now_ms)
{
    (void)now_ms;
}

void mc_board_watchdog(void)
{
}

/* ARM semihosting: SYS_EXIT (0x18) with ADP_Stopped_ApplicationExit (0x20026) or
 * ADP_Stopped_RunTimeErrorUnknown (0x20023): QEMU exits with 0 or 1. */
static void semihost_exit(uint32_t reason)
{
    register uint32_t r0 __asm__("r0") = 0x18u;
    register uint32_t r1 __asm__("r1") = reason;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
}

void mc_board_fatal(const char *why)
{
    mc_f4_board_log_parts("FATAL: ", why);
    semihost_exit(0x20023u);
    for (;;) {
    }
}
