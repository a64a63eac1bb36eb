/*
 * HD44780 character LCD, 4-bit write-only bus (see mc_hd44780.h). Timing from
 * the controller's datasheet facts: E pulse >= 450 ns, 37 µs per command or
 * character, 1.52 ms for clear, the 4-bit start-up sequence 3, 3, 3, 2.
 * SPDX-License-Identifier: MIT
 */
#include "mc_hd44780.h"

#include <string.h>

static void put_nibble(const mc_hd44780_t *lcd, uint8_t nibble)
{
    for (unsigned k = 0; k < 4u; k++) {
        mc_f4_gpio_write(lcd->d[k].port, lcd->d[k].pin, (nibble >> k) & 1u);
    }
    /* E high >= 450 ns and a cycle >= 1 µs: mc_f4_delay_us(n) waits more than n - 1 µs. */
    mc_f4_gpio_write(lcd->e.port, lcd->e.pin, 1u);
    mc_f4_delay_us(2u);
    mc_f4_gpio_write(lcd->e.port, lcd->e.pin, 0u);
    mc_f4_delay_us(2u);
}

static void put_byte(const mc_hd44780_t *lcd, uint8_t rs, uint8_t byte)
{
    mc_f4_gpio_write(lcd->rs.port, lcd->rs.pin, rs);
    put_nibble(lcd, (uint8_t)(byte >> 4));
    put_nibble(lcd, (uint8_t)(byte & 0xFu));
    mc_f4_delay_us(rs == 0u && byte <= 3u ? 1600u : 45u); /* clear / home are slow */
}

void mc_hd44780_init(mc_hd44780_t *lcd)
{
    mc_f4_gpio_output(lcd->rs.port, lcd->rs.pin, 0u);
    mc_f4_gpio_output(lcd->e.port, lcd->e.pin, 0u);
    for (unsigned k = 0; k < 4u; k++) {
        mc_f4_gpio_output(lcd->d[k].port, lcd->d[k].pin, 0u);
    }
    memset(&lcd->shown, 0, sizeof(lcd->shown));
    lcd->blink_off = 0u;
    mc_f4_delay_us(40000u); /* after VDD rises */
    put_nibble(lcd, 3u);
    mc_f4_delay_us(4500u);
    put_nibble(lcd, 3u);
    mc_f4_delay_us(150u);
    put_nibble(lcd, 3u);
    mc_f4_delay_us(150u);
    put_nibble(lcd, 2u);      /* 4-bit mode from here */
    mc_f4_delay_us(50u);
    put_byte(lcd, 0u, 0x28u); /* 4-bit, 2-line addressing, 5x8 font */
    put_byte(lcd, 0u, 0x0Cu); /* display on, no cursor */
    put_byte(lcd, 0u, 0x01u); /* clear */
    put_byte(lcd, 0u, 0x06u); /* increment, no shift */
}

static void redraw(const mc_hd44780_t *lcd)
{
    static const uint8_t line_addr[4] = {0x00u, 0x40u, 0x10u, 0x50u}; /* 16x4 */
    for (unsigned r = 0; r < MC_PANEL_LINES; r++) {
        put_byte(lcd, 0u, (uint8_t)(0x80u | line_addr[r]));
        const char *t = lcd->shown.text[r];
        const size_t len = strlen(t);
        for (unsigned c = 0; c < MC_PANEL_COLS; c++) {
            char ch = c < len ? t[c] : ' ';
            if (lcd->blink_off && (lcd->shown.flash[r] >> c) & 1u) {
                ch = ' ';
            }
            put_byte(lcd, 1u, (uint8_t)ch);
        }
    }
}

void mc_hd44780_show(mc_hd44780_t *lcd, const mc_panel_screen_t *s)
{
    lcd->shown = *s;
    lcd->blink_off = 0u;
    redraw(lcd);
}

void mc_hd44780_blink(mc_hd44780_t *lcd)
{
    unsigned any = 0u;
    for (unsigned r = 0; r < MC_PANEL_LINES; r++) {
        any |= lcd->shown.flash[r];
    }
    if (any == 0u) {
        lcd->blink_off = 0u;
        return;
    }
    lcd->blink_off = (uint8_t)!lcd->blink_off;
    redraw(lcd);
}
