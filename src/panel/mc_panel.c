/*
 * Front panel state machine (mc_panel.h): pages, keys, password, settings.
 * Strict ISO C11, no allocation, no stdio (numbers are formatted here).
 * SPDX-License-Identifier: MIT
 */
#include "metercore/mc_panel.h"

#include <stddef.h>
#include <string.h>

/* Messages on the last line (mc_panel_t::msg). */
enum { MSG_NONE = 0, MSG_SAVE_ERR };

/* ------------------------------------------------------------------------ */
/* Time                                                                      */
/* ------------------------------------------------------------------------ */

/* a - b in ms, wrap-safe (differences up to 24 days). */
static int32_t ms_since(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}

/* ------------------------------------------------------------------------ */
/* Text                                                                      */
/* ------------------------------------------------------------------------ */

static void ln_str(char *l, const char *s)
{
    size_t n = strlen(l);
    while (*s != '\0' && n < MC_PANEL_COLS) {
        l[n++] = *s++;
    }
    l[n] = '\0';
}

static unsigned pow10u(unsigned e)
{
    unsigned p = 1u;
    while (e-- > 0u) {
        p *= 10u;
    }
    return p;
}

/* Number flags. */
enum { NUM_ZERO = 1, NUM_PLUS = 2 };

/*
 * v right-aligned in exactly w characters (w <= 16) with d decimals, fewer if
 * it does not fit, '-' everywhere if it does not fit at all (or is NaN).
 * NUM_ZERO pads with zeros (after the sign), NUM_PLUS writes '+' for >= 0.
 */
static void fmt_num(char *out, float v, unsigned w, unsigned d, unsigned flags)
{
    for (;;) {
        char dig[24] = {0};
        unsigned n = 0;
        int ok = v == v; /* not NaN */
        int neg = v < 0.0f;
        const float a = neg ? -v : v;
        const float s = a * (float)pow10u(d) + 0.5f;
        if (ok && s < 4.0e9f) {
            uint32_t q = (uint32_t)s;
            if (q == 0u) {
                neg = 0; /* no "-0.0" */
            }
            unsigned k = 0;
            do {
                dig[n++] = (char)('0' + q % 10u);
                q /= 10u;
                k++;
                if (k == d) {
                    dig[n++] = '.';
                }
            } while (q != 0u || k <= d);
            const char sign = neg ? '-' : (flags & NUM_PLUS) ? '+' : '\0';
            const unsigned len = n + (sign != '\0' ? 1u : 0u);
            if (len <= w) {
                unsigned pos = 0;
                if (!(flags & NUM_ZERO)) {
                    while (pos < w - len) {
                        out[pos++] = ' ';
                    }
                }
                if (sign != '\0') {
                    out[pos++] = sign;
                }
                while (pos < w - n) {
                    out[pos++] = '0';
                }
                while (n > 0u) {
                    out[pos++] = dig[--n];
                }
                out[pos] = '\0';
                return;
            }
        }
        if (!ok || d == 0u) {
            break;
        }
        d--;
    }
    for (unsigned k = 0; k < w; k++) {
        out[k] = '-';
    }
    out[w] = '\0';
}

static void ln_num(char *l, float v, unsigned w, unsigned d, unsigned flags)
{
    char t[MC_PANEL_COLS + 1u];
    fmt_num(t, v, w, d, flags);
    ln_str(l, t);
}

/* Unsigned, zero-padded to w digits. */
static void ln_u(char *l, unsigned v, unsigned w)
{
    char t[12] = {0};
    unsigned n = 0;
    do {
        t[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    while (n < w && n < sizeof(t) - 1u) {
        t[n++] = '0';
    }
    char o[12] = {0};
    for (unsigned k = 0; k < n; k++) {
        o[k] = t[n - 1u - k];
    }
    o[n] = '\0';
    ln_str(l, o);
}

static void ln_hex(char *l, uint32_t v, unsigned w)
{
    char o[9] = {0};
    for (unsigned k = 0; k < w && k < 8u; k++) {
        o[k] = "0123456789ABCDEF"[(v >> (4u * (w - 1u - k))) & 0xFu];
    }
    o[w < 8u ? w : 8u] = '\0';
    ln_str(l, o);
}

/* ------------------------------------------------------------------------ */
/* Model access                                                              */
/* ------------------------------------------------------------------------ */

static const char *const rate_names[4] = {"SHARP", "PEAK", "FLAT", "VALLEY"};
static const char *const baud_names[4] = {"1200", "2400", "4800", "9600"};
static const char *const parity_names[3] = {"NONE", "EVEN", "ODD"};
static const char *const yesno_names[2] = {"NO", "YES"};
static const char *const item_names[MC_PANEL_ITEM_COUNT] = {"PASS", "Adr", "baud", "PrtY", "CLr.E", "RSTW"};

/* ------------------------------------------------------------------------ */
/* Items                                                                     */
/* ------------------------------------------------------------------------ */

/* How an item's value is edited. */
typedef struct item_def {
    uint8_t digits;  /* 0: a choice */
    uint16_t lo, hi; /* range of the value (choices: codes) */
} item_def_t;

static const item_def_t item_defs[MC_PANEL_ITEM_COUNT] = {
    {4, 0, 9999}, /* password */
    {3, 1, 247},  /* address */
    {0, 1, 4},    /* baud code */
    {0, 0, 2},    /* parity */
    {0, 0, 1},    /* clear: NO / YES */
    {0, 0, 1},    /* Wi-Fi reset: NO / YES */
};

static int item_shown(const mc_panel_t *p, unsigned item)
{
    return item != MC_PANEL_ITEM_WIFI || p->port.wifi_reset != NULL;
}

/* The value an item starts from when edited (and shows in the menu). */
static uint16_t item_value(const mc_panel_t *p, unsigned item)
{
    switch (item) {
    case MC_PANEL_ITEM_PASSWORD:
        return p->md->params.password; /* never readable through the model */
    case MC_PANEL_ITEM_ADDRESS:
        return (uint16_t)mc_model_read_u(p->md, MC_QTY_ADDRESS, 0);
    case MC_PANEL_ITEM_BAUD:
        return (uint16_t)mc_model_read_u(p->md, MC_QTY_BAUD, 0);
    case MC_PANEL_ITEM_PARITY:
        return (uint16_t)mc_model_read_u(p->md, MC_QTY_PARITY, 0);
    default:
        return 0u; /* commands start at NO */
    }
}

/* Next value of digit pos (0 = leftmost) that keeps the value in [lo, hi]; v if none. */
static uint16_t digit_step(uint16_t v, unsigned ndig, unsigned pos, unsigned lo, unsigned hi)
{
    const unsigned pw = pow10u(ndig - 1u - pos);
    const unsigned d = (v / pw) % 10u;
    const unsigned base = v - d * pw;
    for (unsigned k = 1; k < 10u; k++) {
        const unsigned nv = base + ((d + k) % 10u) * pw;
        if (nv >= lo && nv <= hi) {
            return (uint16_t)nv;
        }
    }
    return v;
}

/* Choice step by +1 or -1 within [lo, hi], wrapping. */
static uint16_t choice_step(uint16_t v, int dir, unsigned lo, unsigned hi)
{
    if (dir > 0) {
        return (uint16_t)(v >= hi ? lo : v + 1u);
    }
    return (uint16_t)(v <= lo ? hi : v - 1u);
}

static void value_text(char *l, unsigned item, uint16_t v, int masked)
{
    switch (item) {
    case MC_PANEL_ITEM_PASSWORD:
        if (masked) {
            ln_str(l, "----");
        } else {
            ln_u(l, v, 4);
        }
        break;
    case MC_PANEL_ITEM_ADDRESS:
        ln_u(l, v, 3);
        break;
    case MC_PANEL_ITEM_BAUD:
        ln_str(l, v >= 1u && v <= 4u ? baud_names[v - 1u] : "----");
        break;
    case MC_PANEL_ITEM_PARITY:
        ln_str(l, v <= 2u ? parity_names[v] : "----");
        break;
    default:
        ln_str(l, yesno_names[v ? 1 : 0]);
        break;
    }
}

/* ------------------------------------------------------------------------ */
/* Rendering                                                                 */
/* ------------------------------------------------------------------------ */

static void render_energy_pair(mc_panel_screen_t *s, const mc_model_t *md, const char *title, mc_qty imp,
                               mc_qty exp)
{
    ln_str(s->text[0], title);
    ln_str(s->text[1], "IMP ");
    ln_num(s->text[1], mc_model_read_f(md, imp, 0), 10, 2, NUM_ZERO);
    ln_str(s->text[2], "EXP ");
    ln_num(s->text[2], mc_model_read_f(md, exp, 0), 10, 2, NUM_ZERO);
}

/* Lines 1 and 2: combined active ("P") and reactive ("Q") energy. */
static void render_pq_energy(mc_panel_screen_t *s, float kwh, float kvarh)
{
    ln_str(s->text[1], "P ");
    ln_num(s->text[1], kwh, 9, 2, NUM_ZERO);
    ln_str(s->text[1], "kWh");
    ln_str(s->text[2], "Q ");
    ln_num(s->text[2], kvarh, 9, 2, NUM_ZERO);
    ln_str(s->text[2], "kvarh");
}

static void render_kilo(char *l, const char *label, float v, const char *unit)
{
    ln_str(l, label);
    ln_num(l, v / 1000.0f, 8, 3, NUM_PLUS);
    ln_str(l, unit);
}

static void render_page(const mc_panel_t *p, mc_panel_screen_t *s)
{
    const mc_model_t *md = p->md;
    const unsigned pg = p->page;
    if (pg == MC_PANEL_PAGE_UIF) {
        ln_str(s->text[0], "U: ");
        ln_num(s->text[0], mc_model_read_f(md, MC_QTY_VOLTAGE, 0), 5, 1, NUM_ZERO);
        ln_str(s->text[0], "V");
        ln_str(s->text[1], "I: ");
        ln_num(s->text[1], mc_model_read_f(md, MC_QTY_CURRENT, 0), 5, 1, NUM_ZERO);
        ln_str(s->text[1], "A");
        ln_str(s->text[2], "F: ");
        ln_num(s->text[2], mc_model_read_f(md, MC_QTY_FREQ, 0), 2, 0, 0);
        ln_str(s->text[2], " Hz");
    } else if (pg == MC_PANEL_PAGE_PQS) {
        render_kilo(s->text[0], "P:", mc_model_read_f(md, MC_QTY_P, 0), "kW");
        render_kilo(s->text[1], "Q:", mc_model_read_f(md, MC_QTY_Q, 0), "kvar");
        render_kilo(s->text[2], "S:", mc_model_read_f(md, MC_QTY_S, 0), "kVA");
    } else if (pg == MC_PANEL_PAGE_PF) {
        ln_str(s->text[0], "PF: ");
        ln_num(s->text[0], mc_model_read_f(md, MC_QTY_PF, 0), 6, 3, NUM_PLUS);
        ln_str(s->text[1], "F: ");
        ln_num(s->text[1], mc_model_read_f(md, MC_QTY_FREQ, 0), 5, 2, 0);
        ln_str(s->text[1], "Hz");
    } else if (pg == MC_PANEL_PAGE_E_ACTIVE) {
        render_energy_pair(s, md, "ACTIVE kWh", MC_QTY_E_ACTIVE_IMPORT, MC_QTY_E_ACTIVE_EXPORT);
    } else if (pg == MC_PANEL_PAGE_E_REACTIVE) {
        render_energy_pair(s, md, "REACTIVE kvarh", MC_QTY_E_REACTIVE_IMPORT, MC_QTY_E_REACTIVE_EXPORT);
    } else if (pg >= MC_PANEL_PAGE_RATE1 && pg < MC_PANEL_PAGE_MONTH0) {
        const unsigned r = pg - MC_PANEL_PAGE_RATE1 + 1u;
        ln_str(s->text[0], "T");
        ln_u(s->text[0], r, 1);
        ln_str(s->text[0], " ");
        ln_str(s->text[0], rate_names[r - 1u]);
        render_pq_energy(s, mc_model_read_f(md, MC_QTY_E_ACTIVE, r), mc_model_read_f(md, MC_QTY_E_REACTIVE, r));
    } else if (pg >= MC_PANEL_PAGE_MONTH0 && pg < MC_PANEL_PAGE_CLOCK) {
        const unsigned m = pg - MC_PANEL_PAGE_MONTH0;
        ln_str(s->text[0], m == 0u ? "MONTH 0" : "MONTH -");
        if (m != 0u) {
            ln_u(s->text[0], m, 1);
        }
        render_pq_energy(s, mc_model_read_f(md, MC_QTY_MONTH_ACTIVE, m), mc_model_read_f(md, MC_QTY_MONTH_REACTIVE, m));
    } else if (pg == MC_PANEL_PAGE_CLOCK) {
        ln_u(s->text[0], mc_model_read_u(md, MC_QTY_CLOCK, 0), 4);
        ln_str(s->text[0], "-");
        ln_u(s->text[0], mc_model_read_u(md, MC_QTY_CLOCK, 1), 2);
        ln_str(s->text[0], "-");
        ln_u(s->text[0], mc_model_read_u(md, MC_QTY_CLOCK, 2), 2);
        ln_u(s->text[1], mc_model_read_u(md, MC_QTY_CLOCK, 3), 2);
        ln_str(s->text[1], ":");
        ln_u(s->text[1], mc_model_read_u(md, MC_QTY_CLOCK, 4), 2);
        ln_str(s->text[1], ":");
        ln_u(s->text[1], mc_model_read_u(md, MC_QTY_CLOCK, 5), 2);
        const unsigned rate = mc_model_read_u(md, MC_QTY_RATE, 0);
        ln_str(s->text[2], "RATE ");
        if (rate >= 1u && rate <= 4u) {
            ln_u(s->text[2], rate, 1);
            ln_str(s->text[2], " ");
            ln_str(s->text[2], rate_names[rate - 1u]);
        } else {
            ln_str(s->text[2], "-");
        }
    } else if (pg == MC_PANEL_PAGE_DEMAND) {
        render_kilo(s->text[0], "DP:", mc_model_read_f(md, MC_QTY_DEMAND_P, 0), "kW");
        render_kilo(s->text[1], "DS:", mc_model_read_f(md, MC_QTY_DEMAND_S, 0), "kVA");
        render_kilo(s->text[2], "MD:", mc_model_read_f(md, MC_QTY_MAX_DEMAND_P, 0), "kW");
    } else if (pg == MC_PANEL_PAGE_IO) {
        ln_str(s->text[0], "RELAY ");
        if (md->cfg.features & MC_FEAT_RELAY) {
            ln_str(s->text[0], mc_model_read_u(md, MC_QTY_RELAY, 0) ? "CLOSED" : "OPEN");
        } else {
            ln_str(s->text[0], "NONE");
        }
        ln_str(s->text[1], "DI ");
        if (md->cfg.features & MC_FEAT_DI) {
            ln_str(s->text[1], mc_model_read_u(md, MC_QTY_DI, 0) ? "CLOSED" : "OPEN");
        } else {
            ln_str(s->text[1], "NONE");
        }
    } else { /* MC_PANEL_PAGE_SW */
        const unsigned ver = mc_model_read_u(md, MC_QTY_SW_VERSION, 0);
        ln_str(s->text[0], "SW ");
        ln_u(s->text[0], ver >> 8, 1);
        ln_str(s->text[0], ".");
        ln_u(s->text[0], ver & 0xFFu, 1);
        ln_str(s->text[0], ".");
        ln_u(s->text[0], mc_model_read_u(md, MC_QTY_SW_PATCH, 0), 1);
        ln_str(s->text[0], " MAP ");
        ln_u(s->text[0], mc_model_read_u(md, MC_QTY_MAP_VERSION, 0), 1);
        ln_str(s->text[1], "CRC ");
        ln_hex(s->text[1], mc_model_read_u(md, MC_QTY_SW_CHECKSUM, 0), 4);
        ln_hex(s->text[1], mc_model_read_u(md, MC_QTY_SW_CHECKSUM, 1), 4);
        char sn[MC_PANEL_COLS + 1u];
        size_t n = 0;
        for (unsigned k = 0; k < 8u; k++) {
            const unsigned w = mc_model_read_u(md, MC_QTY_SERIAL, k);
            const char c[2] = {(char)(w >> 8), (char)(w & 0xFFu)};
            for (unsigned j = 0; j < 2u; j++) {
                if (c[j] == '\0') {
                    k = 8u;
                    break;
                }
                sn[n++] = (c[j] >= 0x20 && c[j] < 0x7F) ? c[j] : '?';
            }
        }
        sn[n] = '\0';
        ln_str(s->text[2], sn);
    }
}

static void render(const mc_panel_t *p, mc_panel_screen_t *s, uint32_t now_ms)
{
    memset(s, 0, sizeof(*s));
    s->mode = p->mode;
    switch (p->mode) {
    case MC_PANEL_MEASURE:
        s->page = p->page;
        render_page(p, s);
        break;
    case MC_PANEL_PASSWORD:
        ln_str(s->text[0], "PASS");
        ln_u(s->text[1], p->value, 4);
        s->flash[1] = (uint16_t)(1u << p->digit);
        if (p->wrong > 0u) {
            ln_str(s->text[2], "ERR ");
            ln_u(s->text[2], p->wrong, 1);
        }
        break;
    case MC_PANEL_MENU:
    case MC_PANEL_EDIT: {
        const item_def_t *d = &item_defs[p->item];
        const int edit = p->mode == MC_PANEL_EDIT;
        s->page = p->item;
        ln_str(s->text[0], item_names[p->item]);
        value_text(s->text[1], p->item, edit ? p->value : item_value(p, p->item), !edit);
        if (edit) {
            s->flash[1] = d->digits != 0u ? (uint16_t)(1u << p->digit)
                                          : (uint16_t)((1u << strlen(s->text[1])) - 1u);
        }
        if (p->msg == MSG_SAVE_ERR) {
            ln_str(s->text[2], "ERR");
        }
        break;
    }
    default: { /* LOCKED */
        int32_t left = ms_since(p->lock_until_ms, now_ms);
        if (left < 0) {
            left = 0;
        }
        const unsigned sec = ((unsigned)left + 999u) / 1000u;
        ln_str(s->text[0], "LOCKED");
        ln_u(s->text[1], sec / 60u, 2);
        ln_str(s->text[1], ":");
        ln_u(s->text[1], sec % 60u, 2);
        break;
    }
    }
}

static void show(mc_panel_t *p, uint32_t now_ms, int force)
{
    mc_panel_screen_t s;
    render(p, &s, now_ms);
    if (!force && p->shown && memcmp(&s, &p->screen, sizeof(s)) == 0) {
        return;
    }
    p->screen = s;
    p->shown = 1;
    if (p->port.show != NULL) {
        p->port.show(p->port.ctx, &p->screen);
    }
}

static void emit(mc_panel_t *p, mc_panel_event ev)
{
    if (p->port.event != NULL) {
        p->port.event(p->port.ctx, ev);
    }
}

/* ------------------------------------------------------------------------ */
/* State machine                                                             */
/* ------------------------------------------------------------------------ */

static void to_measure(mc_panel_t *p, int first_page)
{
    p->mode = MC_PANEL_MEASURE;
    p->msg = MSG_NONE;
    if (first_page) {
        p->page = MC_PANEL_PAGE_UIF;
    }
}

static void to_menu(mc_panel_t *p, unsigned item)
{
    p->mode = MC_PANEL_MENU;
    p->item = (uint8_t)item;
    p->msg = MSG_NONE;
}

static void to_password(mc_panel_t *p)
{
    p->mode = MC_PANEL_PASSWORD;
    p->value = 0;
    p->digit = 0;
}

static void update_lock(mc_panel_t *p, uint32_t now_ms)
{
    if (p->locked && ms_since(now_ms, p->lock_until_ms) >= 0) {
        p->locked = 0;
        p->wrong = 0;
        if (p->mode == MC_PANEL_LOCKED) {
            to_measure(p, 0);
        }
        emit(p, MC_PANEL_EV_LOCKOUT_END);
    }
}

static unsigned next_item(const mc_panel_t *p, unsigned item, int dir)
{
    do {
        item = dir > 0 ? (item + 1u) % MC_PANEL_ITEM_COUNT
                       : (item + MC_PANEL_ITEM_COUNT - 1u) % MC_PANEL_ITEM_COUNT;
    } while (!item_shown(p, item));
    return item;
}

static void check_password(mc_panel_t *p, uint32_t now_ms)
{
    if (p->value == p->md->params.password) {
        p->wrong = 0;
        to_menu(p, MC_PANEL_ITEM_PASSWORD);
        return;
    }
    if (p->wrong < 255u) {
        p->wrong++;
    }
    emit(p, MC_PANEL_EV_WRONG_PASSWORD);
    if (p->wrong >= MC_PANEL_LOCK_TRIES) {
        p->locked = 1;
        p->lock_until_ms = now_ms + MC_PANEL_LOCK_MS;
        to_measure(p, 1);
        emit(p, MC_PANEL_EV_LOCKOUT);
        return;
    }
    to_password(p);
}

/* The quantity each menu item writes (the Wi-Fi reset is a port action, not a parameter). */
static const uint8_t item_qty[MC_PANEL_ITEM_COUNT] = {
    [MC_PANEL_ITEM_PASSWORD] = MC_QTY_PASSWORD, [MC_PANEL_ITEM_ADDRESS] = MC_QTY_ADDRESS,
    [MC_PANEL_ITEM_BAUD] = MC_QTY_BAUD,         [MC_PANEL_ITEM_PARITY] = MC_QTY_PARITY,
    [MC_PANEL_ITEM_CLEAR] = MC_QTY_CLEAR_ENERGY, [MC_PANEL_ITEM_WIFI] = MC_QTY_NONE,
};

static void save_item(mc_panel_t *p)
{
    const int command = p->item == MC_PANEL_ITEM_CLEAR || p->item == MC_PANEL_ITEM_WIFI;
    if (command && p->value == 0u) {
        to_menu(p, p->item); /* NO: nothing to do */
        return;
    }
    int err;
    if (p->item == MC_PANEL_ITEM_WIFI) {
        err = p->port.wifi_reset != NULL ? p->port.wifi_reset(p->port.ctx) : MC_ERR_INVAL;
    } else {
        mc_write_item_t it;
        memset(&it, 0, sizeof(it));
        it.qty = item_qty[p->item];
        it.u = p->item == MC_PANEL_ITEM_CLEAR ? (uint16_t)MC_CLEAR_ENERGY_COMMAND : (uint16_t)p->value;
        err = mc_model_write(p->md, &it, 1, MC_SRC_PANEL);
    }
    to_menu(p, p->item);
    if (err < 0) {
        p->msg = MSG_SAVE_ERR;
    }
}

static void start_edit(mc_panel_t *p)
{
    p->mode = MC_PANEL_EDIT;
    p->value = item_value(p, p->item);
    p->digit = 0;
    p->msg = MSG_NONE;
}

static void on_short(mc_panel_t *p, unsigned key, uint32_t now_ms)
{
    const int k1 = key == MC_PANEL_K1;
    switch (p->mode) {
    case MC_PANEL_MEASURE:
        p->page = (uint8_t)(k1 ? (p->page + 1u) % MC_PANEL_PAGE_COUNT
                               : (p->page + MC_PANEL_PAGE_COUNT - 1u) % MC_PANEL_PAGE_COUNT);
        break;
    case MC_PANEL_PASSWORD:
        if (k1) {
            p->digit = (uint8_t)((p->digit + 1u) % 4u);
        } else {
            p->value = digit_step(p->value, 4, p->digit, 0, 9999);
        }
        break;
    case MC_PANEL_MENU:
        to_menu(p, next_item(p, p->item, k1 ? 1 : -1));
        break;
    case MC_PANEL_EDIT: {
        const item_def_t *d = &item_defs[p->item];
        if (d->digits != 0u) {
            if (k1) {
                p->digit = (uint8_t)((p->digit + 1u) % d->digits);
            } else {
                p->value = digit_step(p->value, d->digits, p->digit, d->lo, d->hi);
            }
        } else {
            p->value = choice_step(p->value, k1 ? -1 : 1, d->lo, d->hi);
        }
        break;
    }
    default: /* LOCKED */
        to_measure(p, 0);
        break;
    }
    (void)now_ms;
}

static void on_long(mc_panel_t *p, uint32_t now_ms)
{
    switch (p->mode) {
    case MC_PANEL_MEASURE:
        if (p->locked) {
            p->mode = MC_PANEL_LOCKED;
        } else {
            to_password(p);
        }
        break;
    case MC_PANEL_PASSWORD:
        check_password(p, now_ms);
        break;
    case MC_PANEL_MENU:
        start_edit(p);
        break;
    case MC_PANEL_EDIT:
        save_item(p);
        break;
    default: /* LOCKED: nothing */
        break;
    }
}

/* A single key held long enough acts now. */
static void check_long(mc_panel_t *p, uint32_t now_ms)
{
    if (p->down != 0u && !p->chord && !p->long_done && ms_since(now_ms, p->press_ms) >= (int32_t)MC_PANEL_LONG_MS) {
        p->long_done = 1;
        on_long(p, now_ms);
    }
}

/* Settings left alone for too long: back to measurement, nothing saved. */
static void check_timeout(mc_panel_t *p, uint32_t now_ms)
{
    if (p->mode != MC_PANEL_MEASURE && p->down == 0u &&
        ms_since(now_ms, p->last_key_ms) >= (int32_t)MC_PANEL_TIMEOUT_MS) {
        to_measure(p, 0);
    }
}

int mc_panel_init(mc_panel_t *p, mc_model_t *md, const mc_panel_port_t *port, uint32_t now_ms)
{
    if (p == NULL || md == NULL) {
        return MC_ERR_INVAL;
    }
    memset(p, 0, sizeof(*p));
    p->md = md;
    if (port != NULL) {
        p->port = *port;
    }
    p->last_key_ms = now_ms;
    p->now_ms = now_ms;
    to_measure(p, 1);
    show(p, now_ms, 1);
    return MC_OK;
}

int mc_panel_key(mc_panel_t *p, unsigned key_mask, uint32_t now_ms)
{
    if (p == NULL || p->md == NULL || key_mask > (MC_PANEL_K1 | MC_PANEL_K2)) {
        return MC_ERR_INVAL;
    }
    p->now_ms = now_ms;
    update_lock(p, now_ms);
    check_long(p, now_ms); /* a long press whose moment passed without a tick */
    check_timeout(p, now_ms);
    const uint8_t was = p->down;
    if (key_mask == was) {
        show(p, now_ms, 0);
        return MC_OK;
    }
    p->last_key_ms = now_ms;
    p->down = (uint8_t)key_mask;
    if (was == 0u) {
        p->press_ms = now_ms;
        p->press_keys = (uint8_t)key_mask;
        p->chord = 0;
        p->long_done = 0;
    }
    if (key_mask == (MC_PANEL_K1 | MC_PANEL_K2)) {
        if (!p->chord) {
            p->chord = 1;
            to_measure(p, 1); /* both keys: straight back, nothing saved */
        }
    } else if (key_mask == 0u) {
        if (!p->chord && !p->long_done) {
            on_short(p, p->press_keys, now_ms);
        }
    } else if (was != 0u && !(key_mask & ~was)) {
        /* one of two keys released: the press stays a chord until all are up */
    } else if (was != 0u) {
        /* the other key went down after one was released inside a chord: still ignored */
        p->chord = 1;
    }
    show(p, now_ms, 0);
    return MC_OK;
}

int mc_panel_tick(mc_panel_t *p, uint32_t now_ms)
{
    if (p == NULL || p->md == NULL) {
        return MC_ERR_INVAL;
    }
    p->now_ms = now_ms;
    update_lock(p, now_ms);
    check_long(p, now_ms);
    check_timeout(p, now_ms);
    show(p, now_ms, 0);
    return MC_OK;
}

int mc_panel_refresh(mc_panel_t *p)
{
    if (p == NULL || p->md == NULL) {
        return MC_ERR_INVAL;
    }
    show(p, p->now_ms, 1);
    return MC_OK;
}

const mc_panel_screen_t *mc_panel_screen(const mc_panel_t *p)
{
    return p != NULL ? &p->screen : NULL;
}

int mc_panel_event_record(mc_panel_event type, mc_event_t *out)
{
    if (out == NULL || (type != MC_PANEL_EV_LOCKOUT && type != MC_PANEL_EV_LOCKOUT_END)) {
        return MC_ERR_INVAL;
    }
    memset(out, 0, sizeof(*out));
    out->type = MC_EV_PANEL;
    out->source = MC_SRC_PANEL;
    out->arg = (uint8_t)type;
    out->old_value = MC_PANEL_LOCK_TRIES;
    out->new_value = MC_PANEL_LOCK_MS / 1000u;
    return MC_OK;
}
