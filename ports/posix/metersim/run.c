/*
 * metersim run: a meter running in real time or faster (see ms_run_help()).
 *
 * Every simulated second: pick the load (constant, or the household day at the
 * simulated time; no current while the relay is open), feed 4000 sample pairs
 * to mc_meter_process(), book each closed window with mc_storage_window() at
 * the simulated time, mc_storage_poll(); serve Modbus between seconds; pace to
 * --speed; refresh the dashboard once per real second. Samples come from a
 * buffer of whole mains cycles (1..10 s) regenerated only when the load
 * changes, so --speed max costs little more than the meter itself.
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "load.h"
#include "metercore/mc_modbus.h"
#include "metercore/mc_panel.h"
#include "metersim.h"
#include "mc_posix_nvm.h"
#include "mc_posix_dlt645.h"
#ifdef MS_HAVE_MODBUS
#include "mc_posix_modbus.h"
#endif

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    g_stop = sig;
}

/* The terminal as it was before the dashboard took it (see screen_enter, tty_cbreak). */
static struct termios g_tty_saved;
static volatile sig_atomic_t g_tty_raw, g_alt_screen;

/* SIGQUIT (Ctrl-\) ends metersim at once, without the power-fail save, as it always has;
 * only the terminal is given back first (alternate screen left, cursor shown, keys echoed
 * again), with async-signal-safe calls, and the signal is raised again. */
static void on_quit(int sig)
{
    if (g_alt_screen) {
        static const char leave[] = "\033[?25h\033[?1049l";
        ssize_t w = write(STDOUT_FILENO, leave, sizeof(leave) - 1);
        (void)w;
    }
    if (g_tty_raw) {
        tcsetattr(STDIN_FILENO, TCSANOW, &g_tty_saved);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void run_help(FILE *f)
{
    fprintf(f,
            "usage: metersim [run] [options]\n"
            "  A KPM31BK-like meter (230 V, 5(60) A, 4000 Hz, relay and DI) running in real time\n"
            "  or faster, served over Modbus, its state kept in an NVM file.\n"
            "  --load U=230,I=5,PF=0.5L,F=50  a constant load (PF with L or C; negative PF = export);\n"
            "                           default: the built-in household day (a poly-phase --wiring:\n"
            "                           a small business, see --wiring)\n"
            "  --wiring W               the meter's wiring: 1p2w (default), 1p3w (U1 U2 I1 I2: 120/240 V\n"
            "                           split phase), 3p4w (U1 U2 U3 I1 I2 I3, to neutral, IN calculated),\n"
            "                           3p3w (U12 U32 I1 I3: the line voltages of a wye source, Aron) or\n"
            "                           multi:N (U1 U2 U3 I1..IN, N 1..16, round-robin: I1 on U1, I2 on\n"
            "                           U2, I3 on U3, I4 on U1, ...).\n"
            "                           With --load every element carries that load, balanced (phases\n"
            "                           120 degrees apart, U to neutral; the total P is the sum).\n"
            "                           Without: a small business, a 7.5 kW three-phase motor at PF 0.85\n"
            "                           cycling in business hours (Mon..Sat 07:30..18:30), LED lighting\n"
            "                           on L1, an oven and coffee on L2, PCs (harmonics) and a kettle on\n"
            "                           L3, a fridge, emergency lights and a server around the clock:\n"
            "                           the phases unbalanced, a neutral current.\n"
            "                           The dashboard and --json then show every element (phases: urms,\n"
            "                           irms, p, q, s, pf, angles, the element's energy since the start)\n"
            "                           and the system (vector S, U12 U23 U31, sequence, unbalance,\n"
            "                           neutral); the totals (and the state file) are the meter's as ever\n"
            "  --netting sum|phase      how a poly-phase meter's total energy books the elements: sum\n"
            "                           (default: the sum of the elements' P by its sign each window) or\n"
            "                           phase (each element by its own sign)\n"
            "  --state FILE             NVM state file (default $XDG_STATE_HOME/metercore/metersim.nvm,\n"
            "                           or ~/.local/state/metercore/metersim.nvm); a restart continues.\n"
            "                           A missing file is a first start (created whole or not at all);\n"
            "                           an existing one that is not a metersim state (empty, of another\n"
            "                           size, foreign, another storage format) is refused (exit 2) and\n"
            "                           left as it is\n"
            "  --new-state              make a new meter in the state file, over whatever it holds: this\n"
            "                           DESTROYS the old state (energy, history, settings, event log)\n"
            "  --start YYYY-MM-DDTHH:MM:SS  meter local time to start at (default: where the state\n"
            "                           file stopped, or the system's local time for a new one)\n"
            "  --speed N|max            N simulated seconds per real second (default 1), or max\n"
            "  --until YYYY-MM-DDTHH:MM:SS  stop there (saved, exit 0)\n"
            "  --duration SECONDS       stop after this many simulated seconds (saved, exit 0)\n"
            "  --modbus-tcp HOST:PORT   Modbus TCP server (default 127.0.0.1:1502; port 0: one the\n"
            "                           system picks, named in the banner)\n"
            "  --rtu DEVICE[:BAUD[:PARITY]]  Modbus RTU on a serial device or pty (default 9600, N)\n"
            "  --dlt645 DEVICE[:BAUD[:PARITY]]  DL/T 645-2007 slave on a serial device or pty (default\n"
            "                           2400, E; a pty that cannot carry parity runs without it)\n"
            "  --dlt645-tcp HOST:PORT   DL/T 645-2007 raw frames over TCP, as gateways carry them\n"
            "  --dlt645-address NNNNNNNNNNNN  the DL/T645 address, 12 digits (default 000000000001);\n"
            "                           DL/T645 runs beside Modbus on the same meter (docs/DLT645.md)\n"
            "  --map kpm31|sdm120|sdm630|sunspec  the register map --modbus-tcp and --rtu serve at the\n"
            "                           meter's address (default kpm31, docs/REGISTERS.md): sdm120 and\n"
            "                           sdm630 are Eastron-compatible (FC 04 input registers, float32\n"
            "                           high word first), sunspec has \"SunS\" at 40000 (FC 03)\n"
            "  --map-unit UNIT:MAP      also serve unit id UNIT (1..247) with MAP, on TCP and RTU alike:\n"
            "                           one meter seen as several devices (at most 3; repeat the option)\n"
            "  --cal-switch             the calibration switch (the jumper under the sealed cover) is\n"
            "                           set for this run: a sealed calibration and the pulse constant\n"
            "                           can be changed (with the password), and unsealed\n"
            "  --no-dashboard           plain log lines (one per real second) instead of the screen\n"
            "                           (the screen needs stdout on a terminal: otherwise plain lines)\n"
            "  --json                   one JSON object per real second (the last one has \"final\":true\n"
            "                           and what the run did: settlements, saves, events, and what the\n"
            "                           Modbus TCP server closed and why: tcp_accepted, tcp_refused,\n"
            "                           tcp_evicted, tcp_idle_timeouts, tcp_request_timeouts, tcp_deferred)\n"
            "  --help                   this text\n"
            "  Every write over Modbus needs the password (register 0000H; factory default 6666),\n"
            "  given on the same connection (TCP) or line (RTU), e.g. in the same FC 16 request:\n"
            "  mbpoll -m tcp -p 1502 -a 1 -r 1 -t 4 127.0.0.1 6666 7 (password, then address 7).\n"
            "  10 wrong passwords lock the interface out (60 s, doubling up to a day), logged.\n"
            "  The TCP server closes a connection idle 60 s or with a request incomplete after 5 s,\n"
            "  gives a new client the slot of the longest idle one when all 32 are taken, and serves\n"
            "  at most 4 requests of a client per poll: the metering never waits for the network.\n"
            "  At start-up a banner on stderr names the state file, the meter's current Modbus\n"
            "  address, where Modbus is served and a ready mbpoll command. At --speed max with\n"
            "  --until or --duration, stderr shows the progress (percent done, time left) unless the\n"
            "  screen does. The run ends with a summary (energy by rate, settlements, saves, events)\n"
            "  before the last status line.\n"
            "  SIGINT/SIGTERM/SIGHUP is the power-fail warning: the window under way is closed, the\n"
            "  state is saved and metersim exits 0.\n"
            "  One metersim per state file (an advisory lock held for the whole run): another run\n"
            "  or dump on it exits 2 naming the file and this process.\n");
}

typedef struct run_opts {
    const char *load;
    const char *state;
    const char *tcp;
    int tcp_given; /* --modbus-tcp was on the command line (not the default) */
    const char *rtu;
    const char *dlt645, *dlt645_tcp, *dlt645_address; /* --dlt645, --dlt645-tcp, --dlt645-address */
    int have_start, have_until, speed_max, dashboard, json;
    int cal_switch, new_state;
    mc_time_t start, until;
    double speed;
    unsigned long duration;
    int have_duration;
    ms_wiring_t wiring;        /* --wiring, --netting (default 1p2w, sum) */
    const mc_regmap_t *map;    /* --map (default the KPM31 map) */
    mc_rtu_unit_t units[MC_RTU_MAX_UNITS]; /* --map-unit */
    unsigned n_units;
} run_opts_t;

static int parse_opts(int argc, char **argv, run_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->speed = 1.0;
    o->dashboard = 1;
    o->tcp = "127.0.0.1:1502";
    o->map = mc_regmap_builtin(NULL);
    ms_wiring_default(&o->wiring);
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k];
        const char *val = NULL;
        char name[32];
        const char *eq = strchr(a, '=');
        if (strncmp(a, "--", 2) == 0 && eq != NULL && (size_t)(eq - a) < sizeof(name)) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            val = eq + 1;
            a = name;
        }
        static const char *const with_value[] = { "--load", "--state", "--start", "--speed", "--until",
                                                  "--duration", "--modbus-tcp", "--rtu", "--wiring",
                                                  "--netting", "--map", "--map-unit", "--dlt645",
                                                  "--dlt645-tcp", "--dlt645-address", NULL };
        int takes = 0;
        for (int w = 0; with_value[w] != NULL; w++) {
            takes |= strcmp(a, with_value[w]) == 0;
        }
        if (takes && val == NULL) {
            if (k + 1 >= argc) {
                ms_error("run: %s needs a value (try metersim run --help)", a);
                return -1;
            }
            val = argv[++k];
        } else if (!takes && val != NULL) {
            ms_error("run: %s takes no value", a);
            return -1;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            run_help(stdout);
            return 1;
        } else if (strcmp(a, "--load") == 0) {
            o->load = val;
        } else if (strcmp(a, "--state") == 0) {
            if (*val == '\0') {
                ms_error("run: empty --state");
                return -1;
            }
            o->state = val;
        } else if (strcmp(a, "--start") == 0 || strcmp(a, "--until") == 0) {
            mc_time_t t;
            if (ms_parse_time(val, &t) != 0) {
                ms_error("run: bad %s '%s' (YYYY-MM-DDTHH:MM:SS, 2000..2099)", a, val);
                return -1;
            }
            if (a[2] == 's') {
                o->start = t;
                o->have_start = 1;
            } else {
                o->until = t;
                o->have_until = 1;
            }
        } else if (strcmp(a, "--speed") == 0) {
            if (strcmp(val, "max") == 0) {
                o->speed_max = 1;
            } else if (ms_parse_double(val, &o->speed) != 0 || !(o->speed > 0.0) || o->speed > 1e9) {
                ms_error("run: bad --speed '%s' (a positive number or max)", val);
                return -1;
            }
        } else if (strcmp(a, "--duration") == 0) {
            if (ms_parse_ulong(val, &o->duration) != 0 || o->duration > 100ul * 366ul * 86400ul) {
                ms_error("run: bad --duration '%s' (whole seconds)", val);
                return -1;
            }
            o->have_duration = 1;
        } else if (strcmp(a, "--modbus-tcp") == 0) {
            o->tcp = val;
            o->tcp_given = 1;
        } else if (strcmp(a, "--rtu") == 0) {
            o->rtu = val;
        } else if (strcmp(a, "--dlt645") == 0) {
            o->dlt645 = val;
        } else if (strcmp(a, "--dlt645-tcp") == 0) {
            o->dlt645_tcp = val;
        } else if (strcmp(a, "--dlt645-address") == 0) {
            uint8_t addr[6];
            if (mc_dlt645_parse_address(val, addr) != MC_OK) {
                ms_error("run: bad --dlt645-address '%s' (12 digits, not all nines)", val);
                return -1;
            }
            o->dlt645_address = val;
        } else if (strcmp(a, "--wiring") == 0 || strcmp(a, "--netting") == 0) {
            char why[200];
            if (a[2] == 'w' ? ms_wiring_parse(val, &o->wiring, why, sizeof(why)) != 0
                            : ms_netting_parse(val, &o->wiring.netting, why, sizeof(why)) != 0) {
                ms_error("run: %s", why);
                return -1;
            }
            if (o->wiring.wiring == MC_WIRING_MULTI) {
                o->wiring.voltages = 3; /* a three-phase supply's circuits, round-robin */
            }
        } else if (strcmp(a, "--map") == 0) {
            if ((o->map = mc_regmap_builtin(val)) == NULL) {
                ms_error("run: unknown --map '%s' (kpm31, sdm120, sdm630 or sunspec)", val);
                return -1;
            }
        } else if (strcmp(a, "--map-unit") == 0) {
            const char *colon = strchr(val, ':');
            char num[8];
            unsigned long unit = 0;
            const mc_regmap_t *map = colon != NULL ? mc_regmap_builtin(colon + 1) : NULL;
            if (colon == NULL || (size_t)(colon - val) >= sizeof(num)) {
                ms_error("run: bad --map-unit '%s' (UNIT:MAP, e.g. 2:sdm120)", val);
                return -1;
            }
            memcpy(num, val, (size_t)(colon - val));
            num[colon - val] = '\0';
            if (ms_parse_ulong(num, &unit) != 0 || unit < 1ul || unit > 247ul || map == NULL) {
                ms_error("run: bad --map-unit '%s' (UNIT 1..247, MAP kpm31, sdm120, sdm630 or sunspec)", val);
                return -1;
            }
            for (unsigned u = 0; u < o->n_units; u++) {
                if (o->units[u].id == unit) {
                    ms_error("run: --map-unit %lu given twice", unit);
                    return -1;
                }
            }
            if (o->n_units >= MC_RTU_MAX_UNITS) {
                ms_error("run: at most %u --map-unit", (unsigned)MC_RTU_MAX_UNITS);
                return -1;
            }
            o->units[o->n_units].id = (uint8_t)unit;
            o->units[o->n_units].map = map;
            o->n_units++;
        } else if (strcmp(a, "--no-dashboard") == 0) {
            o->dashboard = 0;
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--cal-switch") == 0) {
            o->cal_switch = 1;
        } else if (strcmp(a, "--new-state") == 0) {
            o->new_state = 1;
        } else {
            ms_error("run: unknown %s '%s' (try metersim run --help)", a[0] == '-' ? "option" : "argument",
                     argv[k]);
            return -1;
        }
    }
    return 0;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int mkdirs(const char *dir)
{
    char buf[4096];
    if (strlen(dir) >= sizeof(buf)) {
        return -1;
    }
    strcpy(buf, dir);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* Default state file, its directory created. NULL (error printed) on failure. */
static const char *default_state(char *buf, size_t len)
{
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    char dir[4096];
    if (xdg != NULL && xdg[0] == '/') {
        snprintf(dir, sizeof(dir), "%s/metercore", xdg);
    } else if (home != NULL && home[0] != '\0') {
        snprintf(dir, sizeof(dir), "%s/.local/state/metercore", home);
    } else {
        ms_error("run: no HOME or XDG_STATE_HOME for the state file: give --state FILE");
        return NULL;
    }
    if (mkdirs(dir) != 0) {
        ms_error("run: cannot create %s: %s", dir, strerror(errno));
        return NULL;
    }
    snprintf(buf, len, "%s/metersim.nvm", dir);
    return buf;
}

/* The system's local time as meter time (clamped to the library's range). */
static mc_time_t system_local_time(void)
{
    time_t now = time(NULL);
    struct tm tm;
    mc_time_t t = 0;
    if (localtime_r(&now, &tm) != NULL) {
        mc_datetime_t dt = { (uint16_t)(tm.tm_year + 1900), (uint8_t)(tm.tm_mon + 1), (uint8_t)tm.tm_mday,
                             (uint8_t)tm.tm_hour, (uint8_t)tm.tm_min, (uint8_t)(tm.tm_sec > 59 ? 59 : tm.tm_sec),
                             0 };
        if (mc_time_from_datetime(&dt, &t) != MC_OK) {
            t = dt.year < 2000 ? 0 : MC_TIME_MAX - 86400u;
        }
    }
    return t;
}

/* Mount a RAM copy of an existing state file: its mount result (MC_ERR_BLANK, MC_ERR_VERSION:
 * not ours; nothing is written to the file) and the time it stopped at (0 if unknown). */
static int state_peek(const char *path, mc_time_t *stopped)
{
    ms_ram_nvm_t ram;
    mc_nvm_t nvm;
    char err[1200];
    *stopped = 0;
    if (ms_ram_nvm_load(&ram, path, &nvm, err, sizeof(err)) != 0) {
        return MC_ERR_IO;
    }
    static ms_app_t peek;
    mc_time_t t = 0;
    const int rc = ms_app_start(&peek, 0, &nvm, 0);
    if (rc == MC_OK) {
        /* the mount logged MC_EV_POWER_UP with old = the time of the last energy save;
         * without it, the newest event's time */
        const unsigned n = mc_storage_event_count(&peek.st);
        mc_event_t ev;
        for (unsigned k = 0; k < n && k < 8u; k++) {
            if (mc_storage_event_read(&peek.st, k, &ev) == MC_OK && ev.type == MC_EV_POWER_UP && ev.old_value != 0) {
                t = ev.old_value;
                break;
            }
        }
        for (unsigned k = 1; t == 0 && k < n && k < 8u; k++) {
            if (mc_storage_event_read(&peek.st, k, &ev) == MC_OK && ev.time != 0) {
                t = ev.time;
            }
        }
    }
    ms_ram_nvm_free(&ram);
    *stopped = t;
    return rc;
}

/* One line for a state file that is not ours: what it is, that it is left alone, the way out. */
static void refuse_state(const char *path, uint64_t size, int size_ok, int mount_err)
{
    char why[200];
    ms_state_reason(size, size_ok, mount_err, why, sizeof(why));
    ms_error("run: state file %s %s; refused and left as it is (--new-state makes a new meter over it, "
             "destroying it)", path, why);
}

#define WH(q) ((double)(q) / (double)MC_ENERGY_QUANTA_PER_WH)

typedef struct sim {
    ms_app_t app;
    run_opts_t o;
    ms_wave_t wave;            /* on the line now */
    int have_wave;
    ms_wave_t fixed;           /* --load */
    int32_t *bv, *bi;          /* sample buffer of whole cycles */
    int poly;                  /* a poly-phase wiring: frames instead of bv, bi */
    ms_frame_wave_t fwave;     /* poly-phase: on the line now */
    int have_fwave;
    int32_t *bf;               /* poly-phase: frame buffer of whole cycles (blen frames) */
    uint32_t blen;             /* its length */
    uint32_t cursor;           /* next sample of the buffer */
    int periodic;              /* the buffer repeats seamlessly */
    double phase0;             /* phase of the buffer's sample 0, cycles (non-periodic buffers) */
    uint64_t last_pulses;
    int pulse_marker;
    int storage_err;
    uint64_t mb_requests;
    /* the front panel (dashboard only): keys from the terminal when stdin is a tty */
    int have_panel;
    mc_panel_t panel;
    uint32_t panel_extra_ms;   /* simulated key-hold time added to the real clock */
    char panel_msg[96];        /* last panel log line, shown under the screen */
    /* what the run did, for the summary at its end */
    double progress;           /* share of the --until/--duration run done, 0..1 (-1: unbounded) */
    double eta_s;              /* real seconds left, estimated (-1: not yet known) */
    unsigned settlements;      /* monthly settlements made during the run */
    unsigned saves;            /* energy saves during the run (the power-fail save included) */
    mc_time_t last_settlement; /* the tariff's last settlement point as last seen */
    mc_time_t saved_at;        /* storage's last energy save time as last seen */
    uint64_t saved_q;          /* storage's energy sum at its last save as last seen */
    uint32_t first_event_seq;  /* sequence of the newest event at start-up */
    uint64_t rate_q0[MC_TARIFF_RATES + 1][2]; /* energy by rate at start-up, import and export */
    int progress_cr;           /* progress on one line (\r) of a terminal, else plain lines */
    /* where Modbus is served, for the banner and the dashboard */
    char mb_host[260];         /* an address clients can connect to ("": no TCP server) */
    int mb_port;               /* the port really listened on (the system's when 0 was asked) */
    const mc_regmap_t *map;    /* the map at the meter's address (--map) */
#ifdef MS_HAVE_MODBUS
    const mc_posix_modbus_stats_t *tcp_stats; /* the TCP server's counters (final JSON object) */
#endif
} sim_t;

/* The dashboard draws in the terminal's alternate screen, so the scrollback keeps what
 * was there (the banner among it); every exit path leaves it: the end of the run and the
 * power-fail signals go through screen_leave(), exit() through atexit, SIGQUIT through
 * on_quit(). */
static void screen_leave(void)
{
    if (g_alt_screen) {
        fputs("\033[?25h\033[?1049l", stdout);
        fflush(stdout);
        g_alt_screen = 0;
    }
}

static void screen_enter(void)
{
    if (isatty(STDOUT_FILENO)) {
        fputs("\033[?1049h\033[?25l", stdout);
        g_alt_screen = 1;
        atexit(screen_leave);
    }
}

/* Count settlements and energy saves as the run makes them. */
static void note_progress(sim_t *s)
{
    ms_app_t *a = &s->app;
    if (a->tariff.last_settlement != s->last_settlement) {
        s->settlements++;
        s->last_settlement = a->tariff.last_settlement;
    }
    if (a->st.saved_at != s->saved_at || a->st.saved_energy_q != s->saved_q) {
        s->saves++;
        s->saved_at = a->st.saved_at;
        s->saved_q = a->st.saved_energy_q;
    }
}

/* Buffer length for a frequency: D seconds so that F·D is whole (D = 1, 2, 4, 5, 10, 20). */
static void plan_buffer(sim_t *s, double f)
{
    static const unsigned ds[] = { 1, 2, 4, 5, 10, 20 };
    s->periodic = 0;
    unsigned d = 1;
    for (size_t k = 0; k < sizeof(ds) / sizeof(ds[0]); k++) {
        const double c = f * ds[k];
        if (fabs(c - floor(c + 0.5)) < 1e-9) {
            d = ds[k];
            s->periodic = 1;
            break;
        }
    }
    s->blen = d * MS_SAMPLE_RATE;
}

static void set_wave(sim_t *s, const ms_wave_t *w)
{
    if (s->have_wave && memcmp(w, &s->wave, sizeof(*w)) == 0) {
        return;
    }
    if (!s->have_wave || w->freq != s->wave.freq) {
        plan_buffer(s, w->freq);
        s->cursor = 0;
        s->phase0 = 0.0;
    }
    s->wave = *w;
    s->have_wave = 1;
    ms_wave_fill(w, s->phase0, MS_SAMPLE_RATE, MS_U_FULL_SCALE / 8388608.0, MS_I_FULL_SCALE / 8388608.0, s->bv,
                 s->bi, s->blen);
}

/* The poly-phase line: the same buffer plan, frames of every channel. */
static void set_frames(sim_t *s, const ms_frame_wave_t *w)
{
    if (s->have_fwave && memcmp(w, &s->fwave, sizeof(*w)) == 0) {
        return;
    }
    if (!s->have_fwave || w->freq != s->fwave.freq) {
        plan_buffer(s, w->freq);
        s->cursor = 0;
        s->phase0 = 0.0;
    }
    s->fwave = *w;
    s->have_fwave = 1;
    ms_frame_fill(w, s->phase0, MS_SAMPLE_RATE, s->app.u_full_scale / 8388608.0, MS_I_FULL_SCALE / 8388608.0,
                  s->bf, s->blen);
}

/* Book the windows the meter closed (mc_storage_window: tariff, demand, saves), each at
 * the simulated time of its end. */
static void book_windows(sim_t *s)
{
    ms_app_t *a = &s->app;
    for (unsigned w = 0; w < a->npending; w++) {
        const mc_reading_t *r = &a->pending[w];
        const uint64_t end = r->start_sample + r->samples;
        const uint64_t rel = end > a->base_sample ? end - a->base_sample : 0;
        const mc_time_t t = a->base_time + (mc_time_t)(rel / MS_SAMPLE_RATE);
        int err = mc_storage_window(&a->st, t, r);
        if (err < 0 && s->storage_err == 0) {
            s->storage_err = err;
            ms_error("run: storage: %s (the meter keeps running)", mc_strerror(err));
        }
    }
    a->npending = 0;
    note_progress(s);
}

/* Feed n samples from the buffer; book closed windows. */
static void feed(sim_t *s, uint32_t n)
{
    ms_app_t *a = &s->app;
    while (n > 0) {
        if (s->cursor >= s->blen) {
            s->cursor = 0;
            if (!s->periodic && s->poly) {
                const double c = s->phase0 + s->fwave.freq * (double)s->blen / MS_SAMPLE_RATE;
                s->phase0 = c - floor(c);
                ms_frame_fill(&s->fwave, s->phase0, MS_SAMPLE_RATE, a->u_full_scale / 8388608.0,
                              MS_I_FULL_SCALE / 8388608.0, s->bf, s->blen);
            } else if (!s->periodic) { /* continue the phase into a fresh buffer */
                const double c = s->phase0 + s->wave.freq * (double)s->blen / MS_SAMPLE_RATE;
                s->phase0 = c - floor(c);
                ms_wave_fill(&s->wave, s->phase0, MS_SAMPLE_RATE, MS_U_FULL_SCALE / 8388608.0,
                             MS_I_FULL_SCALE / 8388608.0, s->bv, s->bi, s->blen);
            }
        }
        uint32_t k = s->blen - s->cursor;
        if (k > n) {
            k = n;
        }
        if (s->poly) {
            mc_meter_process_frames(&a->meter, s->bf + (size_t)s->cursor * s->fwave.channels, k);
        } else {
            mc_meter_process(&a->meter, s->bv + s->cursor, s->bi + s->cursor, k);
        }
        s->cursor += k;
        a->samples += k;
        n -= k;
        book_windows(s);
    }
}

/* ---- front panel -------------------------------------------------------------------------
 * The panel's clock is real monotonic ms plus the hold time the terminal keys simulate (a
 * terminal has no key-up: `1`/`2` are short presses of K1/K2, held 100 ms; `!`/`@` long
 * presses, held MC_PANEL_LONG_MS; `3` both keys). The clock only ever moves forward.
 * Lockouts are logged in the storage's event log as MC_EV_PANEL, source MC_SRC_PANEL,
 * arg = the mc_panel_event (2 lockout, 3 lockout end), old = MC_PANEL_LOCK_TRIES,
 * new = MC_PANEL_LOCK_MS / 1000. */
static uint32_t panel_now(const sim_t *s)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u) + s->panel_extra_ms;
}

static void panel_event(void *ctx, mc_panel_event type)
{
    sim_t *s = ctx;
    if (type == MC_PANEL_EV_WRONG_PASSWORD) {
        snprintf(s->panel_msg, sizeof(s->panel_msg), "panel: wrong password");
        return;
    }
    mc_event_t ev;
    int rc = mc_panel_event_record(type, &ev);
    if (rc == MC_OK) {
        rc = mc_storage_log(&s->app.st, &ev);
    }
    snprintf(s->panel_msg, sizeof(s->panel_msg), "panel: %s (logged%s)",
             type == MC_PANEL_EV_LOCKOUT ? "settings locked after 3 wrong passwords" : "lockout over",
             rc == MC_OK ? "" : ", log failed");
}

static int panel_wifi_reset(void *ctx)
{
    sim_t *s = ctx;
    snprintf(s->panel_msg, sizeof(s->panel_msg), "panel: Wi-Fi module reset (simulated: no module)");
    return MC_OK;
}

static void tty_restore(void)
{
    if (g_tty_raw) {
        tcsetattr(STDIN_FILENO, TCSANOW, &g_tty_saved);
        g_tty_raw = 0;
    }
}

/* cbreak, no echo, non-blocking reads (VMIN 0, VTIME 0); Ctrl-C still signals. */
static void tty_cbreak(void)
{
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &g_tty_saved) != 0) {
        return;
    }
    struct termios t = g_tty_saved;
    t.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0) {
        g_tty_raw = 1;
        atexit(tty_restore);
    }
}

/* A complete press of keys, held hold_ms. */
static void panel_press(sim_t *s, unsigned keys, uint32_t hold_ms)
{
    const uint32_t t = panel_now(s);
    mc_panel_key(&s->panel, keys, t);
    s->panel_extra_ms += hold_ms;
    mc_panel_tick(&s->panel, t + hold_ms);
    mc_panel_key(&s->panel, 0, t + hold_ms);
}

/* Read the keys typed since last time; 1 if any acted. */
static int panel_keys(sim_t *s)
{
    if (!g_tty_raw) {
        return 0;
    }
    char buf[32];
    int acted = 0;
    ssize_t n;
    while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0) {
        for (ssize_t k = 0; k < n; k++) {
            switch (buf[k]) {
            case '1': panel_press(s, MC_PANEL_K1, 100); acted = 1; break;
            case '2': panel_press(s, MC_PANEL_K2, 100); acted = 1; break;
            case '!': panel_press(s, MC_PANEL_K1, MC_PANEL_LONG_MS); acted = 1; break;
            case '@': panel_press(s, MC_PANEL_K2, MC_PANEL_LONG_MS); acted = 1; break;
            case '3': panel_press(s, MC_PANEL_K1 | MC_PANEL_K2, 100); acted = 1; break;
            default: break;
            }
        }
    }
    return acted;
}

/* The panel's screen as 3 lines in a frame, flashing characters in reverse video. */
static void print_panel(const sim_t *s)
{
    const mc_panel_screen_t *sc = mc_panel_screen(&s->panel);
    printf("  front panel        +------------------+\033[K\n");
    for (unsigned l = 0; l < MC_PANEL_LINES; l++) {
        printf("                     | ");
        for (unsigned c = 0; c < MC_PANEL_COLS; c++) {
            const char ch = c < strlen(sc->text[l]) ? sc->text[l][c] : ' ';
            if (sc->flash[l] & (1u << c)) {
                printf("\033[7m%c\033[0m", ch);
            } else {
                putchar(ch);
            }
        }
        printf(" |%s\033[K\n", l == 1 ? "  keys 1/2 K1/K2, !/@ long, 3 both" : "");
    }
    printf("                     +------------------+  %.36s\033[K\n", s->panel_msg);
}

#ifdef MS_HAVE_MODBUS
/* --map and --map-unit on one server (TCP or RTU). Returns 0, or -1 with the error said. */
static int serve_maps(mc_posix_modbus_t *mb, const run_opts_t *o, unsigned address)
{
    if (mc_posix_modbus_set_map(mb, o->map) != MC_OK) {
        ms_error("run: --map %s: the map is not well formed", o->map->name);
        return -1;
    }
    for (unsigned u = 0; u < o->n_units; u++) {
        if (o->units[u].id == address) {
            ms_error("run: --map-unit %u is the meter's own address (use --map for it)", (unsigned)o->units[u].id);
            return -1;
        }
        if (mc_posix_modbus_add_unit(mb, o->units[u].id, o->units[u].map) != MC_OK) {
            ms_error("run: --map-unit %u:%s refused", (unsigned)o->units[u].id, o->units[u].map->name);
            return -1;
        }
    }
    return 0;
}
#endif

/* The mbpoll command that reads U, I, P, Q, S, PF and F (0030H..003CH of docs/REGISTERS.md;
 * mbpoll's -r is 1-based, so -r 49) from the meter as it is now: its current address, its
 * float word order (-B: high word first, ABCD, the default; none for CDAB) and the port
 * really listened on. */
static void mbpoll_tcp(const sim_t *s, char *buf, size_t len)
{
    const mc_params_t *p = &s->app.model.params;
    if (s->map != NULL && strcmp(s->map->name, "sunspec") == 0) { /* the SunS marker, then walk */
        snprintf(buf, len, "mbpoll -m tcp -p %d -a %u -r 40001 -c 2 -t 4:hex %s", s->mb_port, (unsigned)p->address,
                 s->mb_host);
    } else if (s->map != NULL && strncmp(s->map->name, "sdm", 3) == 0) { /* FC 04 from 30001 */
        snprintf(buf, len, "mbpoll -m tcp -p %d -a %u -r 1 -c %d -t 3:float -B %s", s->mb_port,
                 (unsigned)p->address, strcmp(s->map->name, "sdm630") == 0 ? 3 : 1, s->mb_host);
    } else {
        snprintf(buf, len, "mbpoll -m tcp -p %d -a %u -r 49 -c 7 -t 4:float%s %s", s->mb_port, (unsigned)p->address,
                 p->word_order == 1 ? "" : " -B", s->mb_host);
    }
}

/* Events logged since start-up. */
static unsigned run_events(const sim_t *s)
{
    mc_event_t ev;
    const uint32_t seq = mc_storage_event_read(&s->app.st, 0, &ev) == MC_OK ? ev.seq : s->first_event_seq;
    return seq - s->first_event_seq;
}

static void print_status(sim_t *s, double real_elapsed, int final)
{
    ms_app_t *a = &s->app;
    mc_reading_t r;
    if (mc_meter_reading(&a->meter, &r) != MC_OK) {
        memset(&r, 0, sizeof(r));
    }
    mc_energy_t e;
    mc_meter_energy(&a->meter, &e);
    const double ai = WH(e.q[MC_E_ACTIVE_IMPORT]), ae = WH(e.q[MC_E_ACTIVE_EXPORT]);
    const double ri = WH(mc_energy_reactive_import(&e)), re = WH(mc_energy_reactive_export(&e));
    char ts[32];
    const mc_time_t now = ms_app_now(a);
    ms_format_time(now, ts, sizeof(ts));
    const int rate = a->tariff.rate;
    const int relay = mc_model_relay(&a->model), di = mc_model_di(&a->model);
    if (a->pulses != s->last_pulses) {
        s->pulse_marker = !s->pulse_marker;
        s->last_pulses = a->pulses;
    }
    /* poly-phase: the elements of the same window, their energy since the start */
    static ms_poly_view_t view;
    if (s->poly) {
        if (ms_poly_capture(&a->meter, &view) != 0) {
            memset(&view, 0, sizeof(view));
            view.n = a->wiring.circuits;
        }
        ms_poly_energies(&a->meter, &view);
    }
    if (s->o.json) {
        printf("{\"time\":\"%s\",\"urms\":%.4f,\"irms\":%.5f,\"p\":%.3f,\"q\":%.3f,\"s\":%.3f,\"pf\":%.5f,"
               "\"freq\":%.4f,\"active_import_wh\":%.6f,\"active_export_wh\":%.6f,"
               "\"reactive_import_varh\":%.6f,\"reactive_export_varh\":%.6f,\"rate\":%d,",
               ts, r.urms, r.irms, r.p, r.q, r.s, r.pf, r.freq, ai, ae, ri, re, rate);
        printf("\"rates_import_wh\":[");
        for (unsigned k = 1; k <= MC_TARIFF_RATES; k++) {
            printf("%s%.6f", k > 1 ? "," : "", WH(mc_tariff_energy(&a->tariff, k, MC_TK_ACTIVE_IMPORT)));
        }
        printf("],\"rates_export_wh\":[");
        for (unsigned k = 1; k <= MC_TARIFF_RATES; k++) {
            printf("%s%.6f", k > 1 ? "," : "", WH(mc_tariff_energy(&a->tariff, k, MC_TK_ACTIVE_EXPORT)));
        }
        printf("],\"pulses\":%llu,\"relay\":%d,\"di\":%d,\"modbus_requests\":%llu,\"real_s\":%.3f",
               (unsigned long long)a->pulses, relay, di, (unsigned long long)s->mb_requests, real_elapsed);
        if (s->poly) {
            ms_poly_json(stdout, &a->wiring, &view, r.q);
        }
        if (final) {
            printf(",\"final\":true,\"settlements\":%u,\"saves\":%u,\"events\":%u", s->settlements, s->saves,
                   run_events(s));
#ifdef MS_HAVE_MODBUS
            const mc_posix_modbus_stats_t *t = s->tcp_stats;
            if (t != NULL) { /* what the TCP server closed and why */
                printf(",\"tcp_accepted\":%llu,\"tcp_refused\":%llu,\"tcp_evicted\":%llu,\"tcp_idle_timeouts\":%llu,"
                       "\"tcp_request_timeouts\":%llu,\"tcp_deferred\":%llu",
                       (unsigned long long)t->accepted, (unsigned long long)t->refused,
                       (unsigned long long)t->evicted, (unsigned long long)t->idle_timeouts,
                       (unsigned long long)t->request_timeouts, (unsigned long long)t->deferred);
            }
#endif
        }
        printf("}\n");
    } else if ((!s->o.dashboard || final) && s->poly) {
        /* the totals' line with each element's P after them */
        char ph[MC_MAX_CIRCUITS * 24] = "";
        size_t at = 0;
        for (unsigned k = 0; k < view.n && at < sizeof(ph); k++) {
            char label[8];
            ms_element_label(&a->wiring, k, label, sizeof(label));
            const int m = snprintf(ph + at, sizeof(ph) - at, " %s %.1f", label, view.ph[k].p);
            at += m > 0 ? (size_t)m : 0u;
        }
        printf("%s U %.2f V I %.3f A F %.3f Hz P %.1f W Q %.1f var S %.1f VA PF %.3f |%s W | import %.6f Wh "
               "export %.6f Wh | rate %d | relay %s DI %s%s\n",
               ts, r.urms, r.irms, r.freq, r.p, r.q, r.s, r.pf, ph, ai, ae, rate, relay ? "closed" : "open",
               di ? "closed" : "open", final ? " (saved)" : "");
    } else if (!s->o.dashboard || final) {
        printf("%s U %.2f V I %.3f A F %.3f Hz P %.1f W Q %.1f var S %.1f VA PF %.3f | import %.6f Wh "
               "export %.6f Wh | rate %d | relay %s DI %s%s\n",
               ts, r.urms, r.irms, r.freq, r.p, r.q, r.s, r.pf, ai, ae, rate, relay ? "closed" : "open",
               di ? "closed" : "open", final ? " (saved)" : "");
    } else {
        static const char *const names[] = { "", "T1 sharp", "T2 peak", "T3 flat", "T4 valley" };
        printf("\033[H"); /* home: every line below overwrites the last frame's */
        if (s->poly && s->progress >= 0.0) { /* poly-phase: the progress up here, to leave room */
            char prog[48];
            if (s->eta_s >= 0.0) {
                snprintf(prog, sizeof(prog), "  %.1f %%, %.0f s left", 100.0 * s->progress, s->eta_s);
            } else {
                snprintf(prog, sizeof(prog), "  %.1f %% done", 100.0 * s->progress);
            }
            printf("metersim  %s  rate %s  %s%s\033[K\n", ts, rate >= 1 && rate <= 4 ? names[rate] : "?",
                   s->o.speed_max ? "speed max" : "", prog);
        } else {
            printf("metersim  %s   rate %s   %s\033[K\n", ts, rate >= 1 && rate <= 4 ? names[rate] : "?",
                   s->o.speed_max ? "speed max" : "");
        }
        printf("------------------------------------------------------------------\033[K\n");
        printf("  U %9.2f V      I %9.3f A      F %8.3f Hz\033[K\n", r.urms, r.irms, r.freq);
        printf("  P %9.1f W      Q %9.1f var    S %8.1f VA    PF %6.3f\033[K\n", r.p, r.q, r.s, r.pf);
        if (s->poly) { /* a line per element, two for the system; lines of at most 79 columns */
            const mc_poly_reading_t *pp = &view.poly;
            for (unsigned k = 0; k < view.n; k++) {
                const mc_phase_reading_t *p = &view.ph[k];
                char label[8];
                ms_element_label(&a->wiring, k, label, sizeof(label));
                printf("  %-3s U %7.2f V  I %7.3f A  P %8.1f W  Q %8.1f var  PF %6.3f\033[K\n", label, p->urms,
                       p->irms, p->p, p->q, p->pf);
            }
            const char *seq = pp->sequence == MC_SEQ_ABC ? "ABC" : (pp->sequence == MC_SEQ_ACB ? "ACB" : "none");
            const int three = a->wiring.wiring == MC_WIRING_3P4W || a->wiring.wiring == MC_WIRING_3P3W ||
                              (a->wiring.wiring == MC_WIRING_MULTI && a->wiring.voltages == 3);
            if (three) {
                printf("  S vector %9.1f VA   U12 %6.1f  U23 %6.1f  U31 %6.1f V   sequence %s\033[K\n",
                       pp->s_vector, pp->u_ll[0], pp->u_ll[1], pp->u_ll[2], seq);
            } else {
                printf("  S vector %9.1f VA   U12 %6.1f V\033[K\n", pp->s_vector, pp->u_ll[0]);
            }
            char line[120];
            size_t at = 0;
            line[0] = '\0';
            if (three) {
                at += (size_t)snprintf(line + at, sizeof(line) - at, "  unbalance U %.2f %%", pp->u_unbalance_pct);
                if (a->wiring.wiring != MC_WIRING_MULTI) {
                    at += (size_t)snprintf(line + at, sizeof(line) - at, "  I %.2f %%", pp->i_unbalance_pct);
                }
            }
            if (a->wiring.wiring == MC_WIRING_3P4W || a->wiring.wiring == MC_WIRING_1P3W) {
                at += (size_t)snprintf(line + at, sizeof(line) - at, "   neutral %.3f A (calculated)",
                                       pp->i_neutral_calc);
            }
            if (pp->missing != 0) {
                at += (size_t)snprintf(line + at, sizeof(line) - at, "   MISSING PHASE");
            }
            if (at > 0) {
                printf("%.79s\033[K\n", line);
            }
            printf("------------------------------------------------------------------\033[K\n");
            printf("  kWh import %12.3f export %12.3f   kvarh +%10.3f -%10.3f\033[K\n", ai / 1000.0, ae / 1000.0,
                   ri / 1000.0, re / 1000.0);
            printf("  import kWh"); /* the rates on one line: the elements took their room */
            for (unsigned k = 1; k <= MC_TARIFF_RATES; k++) {
                printf("  T%u%s%10.3f", k, (int)k == rate ? "<" : " ",
                       WH(mc_tariff_energy(&a->tariff, k, MC_TK_ACTIVE_IMPORT)) / 1000.0);
            }
            printf("\033[K\n");
        } else {
            printf("------------------------------------------------------------------\033[K\n");
            printf("  active    import %14.3f kWh   export %14.3f kWh\033[K\n", ai / 1000.0, ae / 1000.0);
            printf("  reactive  import %14.3f kvarh export %14.3f kvarh\033[K\n", ri / 1000.0, re / 1000.0);
            for (unsigned k = 1; k <= MC_TARIFF_RATES; k++) {
                printf("  %-9s import %14.3f kWh   export %14.3f kWh%s\033[K\n", names[k],
                       WH(mc_tariff_energy(&a->tariff, k, MC_TK_ACTIVE_IMPORT)) / 1000.0,
                       WH(mc_tariff_energy(&a->tariff, k, MC_TK_ACTIVE_EXPORT)) / 1000.0, (int)k == rate ? "  <" : "");
            }
        }
        if (s->have_panel) {
            printf("------------------------------------------------------------------\033[K\n");
            print_panel(s);
        }
        printf("------------------------------------------------------------------\033[K\n");
        printf("  pulse %s  (%llu)   relay %-6s  DI %-6s  modbus requests %llu\033[K\n", s->pulse_marker ? "(*)" : "( )",
               (unsigned long long)a->pulses, relay ? "closed" : "open", di ? "closed" : "open",
               (unsigned long long)s->mb_requests);
        if (s->mb_host[0] != '\0') {
            /* the address in force (the bus and the panel can change it) and the real port; each
             * line cut at 79 columns so that the screen fits 80 (only a very long host name is
             * cut: the banner has the whole command) */
            char line[400];
            if (s->map == NULL || s->map == mc_regmap_builtin(NULL)) {
                snprintf(line, sizeof(line), "  Modbus TCP port %d, address %u; U I P Q S PF F (mbpoll -r is 1-based):",
                         s->mb_port, (unsigned)a->model.params.address);
            } else {
                snprintf(line, sizeof(line), "  Modbus TCP port %d, address %u; the %s map (docs/REGISTERS.md):",
                         s->mb_port, (unsigned)a->model.params.address, s->map->name);
            }
            printf("%.79s\033[K\n", line);
            line[0] = line[1] = line[2] = line[3] = ' ';
            mbpoll_tcp(s, line + 4, sizeof(line) - 4);
            printf("%.79s\033[K\n", line);
        }
        if (s->progress >= 0.0 && !s->poly) {
            if (s->eta_s >= 0.0) {
                printf("  run %5.1f %% done, about %.0f s left\033[K\n", 100.0 * s->progress, s->eta_s);
            } else {
                printf("  run %5.1f %% done\033[K\n", 100.0 * s->progress);
            }
        }
        printf("  Ctrl-C: power-fail warning (state saved), exit.  Writes need the password\033[K\n\033[J");
    }
    fflush(stdout);
}

/* What the run did, in text, on stdout before the last status line (which stays the last
 * line): energy by rate (the meter's lifetime registers, and this run's share), settlements,
 * saves, events. With --json the final status object carries settlements, saves and events
 * as keys of its own (and every object the energy by rate). */
static void print_summary(sim_t *s, double real_elapsed)
{
    if (s->o.json) {
        return;
    }
    ms_app_t *a = &s->app;
    printf("summary: %llu s simulated in %.1f s: %u settlements, %u energy saves, %u events logged\n",
           (unsigned long long)(a->samples / MS_SAMPLE_RATE), real_elapsed, s->settlements, s->saves,
           run_events(s));
    /* a table that fits 80 columns: the lifetime registers and this run's share */
    printf("summary: %-9s %14s %14s %14s %14s\n", "kWh", "import", "(this run)", "export", "(this run)");
    static const char *const names[] = { "", "T1 sharp", "T2 peak", "T3 flat", "T4 valley" };
    for (unsigned k = 1; k <= MC_TARIFF_RATES; k++) {
        const uint64_t im = mc_tariff_energy(&a->tariff, k, MC_TK_ACTIVE_IMPORT);
        const uint64_t ex = mc_tariff_energy(&a->tariff, k, MC_TK_ACTIVE_EXPORT);
        printf("summary: %-9s %14.6f %14.6f %14.6f %14.6f\n", names[k], WH(im) / 1000.0,
               WH(im - s->rate_q0[k][0]) / 1000.0, WH(ex) / 1000.0, WH(ex - s->rate_q0[k][1]) / 1000.0);
    }
    fflush(stdout);
}

/* Progress of a --speed max run with an end, on stderr: on one line rewritten with \r when
 * stderr is a terminal that stdout does not also write to, else a plain line (once per real
 * second from the caller). done: the run reached its end. */
static int g_progress_open; /* a \r line is on the terminal, not ended yet */

static void print_progress(const sim_t *s, int done, double real_elapsed)
{
    char line[160], ts[32];
    ms_format_time(ms_app_now(&s->app), ts, sizeof(ts));
    if (done) {
        snprintf(line, sizeof(line), "metersim: 100.0 %% done (%s) in %.1f s", ts, real_elapsed);
    } else if (s->eta_s >= 0.0) {
        snprintf(line, sizeof(line), "metersim: %5.1f %% done (%s), about %.0f s left", 100.0 * s->progress, ts,
                 s->eta_s);
    } else {
        snprintf(line, sizeof(line), "metersim: %5.1f %% done (%s)", 100.0 * s->progress, ts);
    }
    if (s->progress_cr) {
        fprintf(stderr, "\r%s\033[K%s", line, done ? "\n" : "");
        g_progress_open = !done;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

int ms_cmd_run(int argc, char **argv)
{
    static sim_t sim; /* large: keep it off the stack */
    sim_t *s = &sim;
    int pr = parse_opts(argc, argv, &s->o);
    if (pr != 0) {
        return pr > 0 ? MS_EXIT_OK : MS_EXIT_USAGE;
    }
    run_opts_t *o = &s->o;
    char err[512];
    if (o->load != NULL && ms_load_parse(o->load, &s->fixed, err, sizeof(err)) != 0) {
        ms_error("run: %s", err);
        return MS_EXIT_USAGE;
    }
    /* Modbus endpoints, checked before anything is touched */
    char host[256] = "";
    long port = 0;
    {
        const char *colon = strrchr(o->tcp, ':');
        unsigned long p;
        if (colon == NULL || (size_t)(colon - o->tcp) >= sizeof(host) || ms_parse_ulong(colon + 1, &p) != 0 ||
            p > 65535) {
            ms_error("run: bad --modbus-tcp '%s' (HOST:PORT)", o->tcp);
            return MS_EXIT_USAGE;
        }
        memcpy(host, o->tcp, (size_t)(colon - o->tcp));
        host[colon - o->tcp] = '\0';
        port = (long)p;
    }
    char rtu_dev[1024] = "";
    unsigned long rtu_baud = 9600;
    char rtu_parity = 'N';
    if (o->rtu != NULL) {
        char tmp[1024];
        if (strlen(o->rtu) >= sizeof(tmp) || o->rtu[0] == '\0' || o->rtu[0] == ':') {
            ms_error("run: bad --rtu '%s' (DEVICE[:BAUD[:PARITY]])", o->rtu);
            return MS_EXIT_USAGE;
        }
        strcpy(tmp, o->rtu);
        char *b = strchr(tmp, ':');
        if (b != NULL) {
            *b++ = '\0';
            char *par = strchr(b, ':');
            if (par != NULL) {
                *par++ = '\0';
                if (strlen(par) != 1 || strchr("NEOneo", par[0]) == NULL) {
                    ms_error("run: bad --rtu parity '%s' (N, E or O)", par);
                    return MS_EXIT_USAGE;
                }
                rtu_parity = (char)(par[0] & ~0x20);
            }
            if (ms_parse_ulong(b, &rtu_baud) != 0 ||
                (rtu_baud != 1200 && rtu_baud != 2400 && rtu_baud != 4800 && rtu_baud != 9600)) {
                ms_error("run: bad --rtu baud '%s' (1200, 2400, 4800 or 9600)", b);
                return MS_EXIT_USAGE;
            }
        }
        strcpy(rtu_dev, tmp);
    }
    /* DL/T645 endpoints (plain POSIX: no libmodbus needed) */
    mc_dlt645_config_t dl_cfg;
    mc_dlt645_config_default(&dl_cfg);
    if (o->dlt645_address != NULL) {
        (void)mc_dlt645_parse_address(o->dlt645_address, dl_cfg.address); /* checked by parse_opts */
    }
    char dl_dev[1024] = "";
    char dl_parity = 'E';
    if (o->dlt645 != NULL) {
        char tmp[1024];
        unsigned long baud = 2400;
        if (strlen(o->dlt645) >= sizeof(tmp) || o->dlt645[0] == '\0' || o->dlt645[0] == ':') {
            ms_error("run: bad --dlt645 '%s' (DEVICE[:BAUD[:PARITY]])", o->dlt645);
            return MS_EXIT_USAGE;
        }
        strcpy(tmp, o->dlt645);
        char *b = strchr(tmp, ':');
        if (b != NULL) {
            *b++ = '\0';
            char *par = strchr(b, ':');
            if (par != NULL) {
                *par++ = '\0';
                if (strlen(par) != 1 || strchr("NEOneo", par[0]) == NULL) {
                    ms_error("run: bad --dlt645 parity '%s' (N, E or O)", par);
                    return MS_EXIT_USAGE;
                }
                dl_parity = (char)(par[0] & ~0x20);
            }
            if (ms_parse_ulong(b, &baud) != 0 || (baud != 1200 && baud != 2400 && baud != 4800 && baud != 9600)) {
                ms_error("run: bad --dlt645 baud '%s' (1200, 2400, 4800 or 9600)", b);
                return MS_EXIT_USAGE;
            }
        }
        dl_cfg.baud = (uint32_t)baud;
        strcpy(dl_dev, tmp);
    }
    char dl_host[256] = "";
    unsigned long dl_port = 0;
    if (o->dlt645_tcp != NULL) {
        const char *colon = strrchr(o->dlt645_tcp, ':');
        if (colon == NULL || (size_t)(colon - o->dlt645_tcp) >= sizeof(dl_host) ||
            ms_parse_ulong(colon + 1, &dl_port) != 0 || dl_port > 65535) {
            ms_error("run: bad --dlt645-tcp '%s' (HOST:PORT)", o->dlt645_tcp);
            return MS_EXIT_USAGE;
        }
        memcpy(dl_host, o->dlt645_tcp, (size_t)(colon - o->dlt645_tcp));
        dl_host[colon - o->dlt645_tcp] = '\0';
    }
#ifndef MS_HAVE_MODBUS
    (void)rtu_baud;
    (void)rtu_parity;
    (void)port; /* the default 127.0.0.1:1502 is simply not served */
    if (o->tcp_given || rtu_dev[0] != '\0') {
        ms_error("run: this metersim was built without libmodbus, so --modbus-tcp and --rtu are not "
                 "available (apt-get install libmodbus-dev, then rebuild)");
        return MS_EXIT_USAGE;
    }
#endif

    /* The screen is for a terminal: into a file or a pipe, plain lines instead. */
    if (o->dashboard && !isatty(STDOUT_FILENO)) {
        o->dashboard = 0;
    }
    const int screen = o->dashboard && !o->json;

    char defpath[4200];
    const char *path = o->state;
    if (path == NULL && (path = default_state(defpath, sizeof(defpath))) == NULL) {
        return MS_EXIT_FAIL;
    }
    struct stat sb;
    const int exists = stat(path, &sb) == 0;
    const int existing = exists && sb.st_size > 0;
    const uint64_t state_bytes = (uint64_t)MS_NVM_SECTORS * MS_NVM_SECTOR_SIZE;
    char lock_err[1200];
    if (existing) { /* held by another metersim: say so now, not whatever its state would break */
        const int fd = open(path, O_RDONLY);
        const int busy = fd >= 0 && ms_state_lock(fd, 0, path, lock_err, sizeof(lock_err)) != 0;
        if (fd >= 0) {
            close(fd);
        }
        if (busy) {
            ms_error("run: %s", lock_err);
            return MS_EXIT_USAGE;
        }
    }
    /* Only our own state: an existing file that is not a metersim state is refused as it is,
     * unless the user asked for a new meter over it (--new-state). */
    mc_time_t stopped = 0;
    if (exists && !o->new_state && S_ISREG(sb.st_mode)) {
        if ((uint64_t)sb.st_size != state_bytes) {
            refuse_state(path, (uint64_t)sb.st_size, 0, MC_OK);
            return MS_EXIT_USAGE;
        }
        const int peek = state_peek(path, &stopped);
        if (peek == MC_ERR_BLANK || peek == MC_ERR_VERSION) {
            refuse_state(path, state_bytes, 1, peek);
            return MS_EXIT_USAGE;
        }
    }
    mc_time_t start;
    if (o->have_start) {
        start = o->start;
    } else if (existing && !o->new_state && stopped != 0) {
        start = stopped; /* continue where the state file stopped */
    } else {
        start = system_local_time();
    }
    if (o->have_until && o->until <= start) {
        ms_error("run: --until is not after the start");
        return MS_EXIT_USAGE;
    }

    /* The power-fail warning counts from here: a SIGINT/SIGTERM during start-up ends the run
     * at its first step, with the state saved, instead of killing it half started. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL); /* the terminal closed: save, as for a power-fail warning */
    sa.sa_handler = on_quit;
    sigaction(SIGQUIT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* a file size limit (ulimit -f) is a write error (EFBIG), not a kill */

    mc_posix_nvm_t file;
    mc_nvm_t nvm;
    /* A new file is created whole or not at all; --new-state replaces whatever is there the same
     * way (the old file stays whole until the new one is complete). */
    int rc = mc_posix_nvm_open_ex(&file, path, MS_NVM_SECTORS, MS_NVM_SECTOR_SIZE, MS_NVM_PROG, 0xFF,
                                  MC_POSIX_NVM_NO_EMPTY | (o->new_state ? MC_POSIX_NVM_REPLACE : 0u), &nvm);
    if (rc != MC_OK) {
        if (rc == MC_ERR_INVAL) { /* changed since the check above */
            refuse_state(path, file.file_size, 0, MC_OK);
        } else if (!exists || o->new_state) {
            ms_error("run: state file %s cannot be created: %s (nothing was left behind)", path,
                     strerror(file.os_errno));
        } else {
            ms_error("run: state file %s cannot be opened: %s", path, strerror(file.os_errno));
        }
        return MS_EXIT_USAGE;
    }
    /* One meter per state file: a second metersim on it would save over the first. */
    if (ms_state_lock(file.fd, 1, path, lock_err, sizeof(lock_err)) != 0) {
        mc_posix_nvm_close(&file);
        ms_error("run: %s", lock_err);
        return MS_EXIT_USAGE;
    }
    /* As fast as possible, a per-operation fsync() would cost more than the metering; what was
     * written still survives kill -9 (the kernel keeps it) and close() syncs. */
    mc_posix_nvm_set_sync(&file, !o->speed_max);
    ms_app_t *a = &s->app;
    rc = ms_app_start_wiring(a, start, &nvm,
                             (o->cal_switch ? MS_APP_CAL_SWITCH : 0u) | (o->new_state ? MS_APP_NEW_METER : 0u),
                             &o->wiring);
    if (rc != MC_OK) {
        mc_posix_nvm_close(&file);
        if (rc == MC_ERR_BLANK || rc == MC_ERR_VERSION) { /* not ours, and left as it is */
            refuse_state(path, state_bytes, 1, rc);
            return MS_EXIT_USAGE;
        }
        ms_error("run: state file %s: mount failed (%s)", path, mc_strerror(rc));
        return MS_EXIT_FAIL;
    }
    s->bv = malloc(20u * MS_SAMPLE_RATE * sizeof(int32_t));
    s->bi = malloc(20u * MS_SAMPLE_RATE * sizeof(int32_t));
    s->poly = o->wiring.wiring != MC_WIRING_1P2W;
    if (s->poly) {
        s->bf = malloc((size_t)20u * MS_SAMPLE_RATE * ms_wiring_channels(&o->wiring) * sizeof(int32_t));
    }
    if (s->bv == NULL || s->bi == NULL || (s->poly && s->bf == NULL)) {
        ms_error("run: out of memory");
        return MS_EXIT_FAIL;
    }

#ifdef MS_HAVE_MODBUS
    static mc_posix_modbus_t tcp, rtu;
    int have_tcp = 0, have_rtu = 0;
    rc = mc_posix_modbus_open_tcp(&tcp, &a->model, host, (int)port);
    if (rc != MC_OK) {
        ms_error("run: Modbus TCP on %s: %s (in use? try --modbus-tcp HOST:PORT)", o->tcp, mc_strerror(rc));
        mc_storage_power_fail(&a->st, ms_app_now(a));
        mc_posix_nvm_close(&file);
        return MS_EXIT_FAIL;
    }
    have_tcp = 1;
    { /* a restart gives a password guesser no fresh tries: the count from the log */
        uint32_t wrong;
        if (mc_storage_auth_restore(&a->st, MC_IFACE_TCP, &wrong) == MC_OK) {
            mc_auth_guard_restore(&a->model, &tcp.guard, wrong);
        }
    }
    /* an address a client on this machine can connect to: the wildcards are not */
    if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0) {
        snprintf(s->mb_host, sizeof(s->mb_host), "127.0.0.1");
    } else if (strcmp(host, "::") == 0 || strcmp(host, "[::]") == 0) {
        snprintf(s->mb_host, sizeof(s->mb_host), "::1");
    } else {
        snprintf(s->mb_host, sizeof(s->mb_host), "%s", host);
    }
    s->mb_port = tcp.port;
    s->tcp_stats = &tcp.stats;
    s->map = o->map;
    if (serve_maps(&tcp, o, a->model.params.address) != 0) {
        mc_posix_modbus_close(&tcp);
        mc_storage_power_fail(&a->st, ms_app_now(a));
        mc_posix_nvm_close(&file);
        return MS_EXIT_USAGE;
    }
    if (o->rtu != NULL) {
        rc = mc_posix_modbus_open_rtu(&rtu, &a->model, rtu_dev, (int)rtu_baud, rtu_parity);
        if (rc != MC_OK) {
            ms_error("run: Modbus RTU on %s: %s", rtu_dev, mc_strerror(rc));
            mc_posix_modbus_close(&tcp);
            mc_storage_power_fail(&a->st, ms_app_now(a));
            mc_posix_nvm_close(&file);
            return MS_EXIT_FAIL;
        }
        have_rtu = 1;
        if (serve_maps(&rtu, o, a->model.params.address) != 0) {
            mc_posix_modbus_close(&rtu);
            mc_posix_modbus_close(&tcp);
            mc_storage_power_fail(&a->st, ms_app_now(a));
            mc_posix_nvm_close(&file);
            return MS_EXIT_USAGE;
        }
        uint32_t wrong;
        if (mc_storage_auth_restore(&a->st, MC_IFACE_RTU, &wrong) == MC_OK) {
            mc_auth_guard_restore(&a->model, &rtu.rtu.guard, wrong);
        }
    }
#endif

    static mc_posix_dlt645_t dl_line, dl_tcp;
    int have_dl_line = 0, have_dl_tcp = 0;
    if (o->dlt645 != NULL || o->dlt645_tcp != NULL) {
        uint32_t wrong = 0;
        const int restored = mc_storage_auth_restore(&a->st, MC_IFACE_DLT645, &wrong) == MC_OK;
        if (o->dlt645 != NULL) {
            rc = mc_posix_dlt645_open_serial(&dl_line, &a->model, &dl_cfg, dl_dev, dl_parity);
            if (rc != MC_OK) {
                ms_error("run: DL/T645 on %s: %s (%s)", dl_dev, mc_strerror(rc), strerror(errno));
                mc_storage_power_fail(&a->st, ms_app_now(a));
                mc_posix_nvm_close(&file);
                return MS_EXIT_FAIL;
            }
            have_dl_line = 1;
            if (restored) {
                mc_auth_guard_restore(&a->model, &dl_line.slave[0].guard, wrong);
            }
        }
        if (o->dlt645_tcp != NULL) {
            rc = mc_posix_dlt645_open_tcp(&dl_tcp, &a->model, &dl_cfg, dl_host, (int)dl_port);
            if (rc != MC_OK) {
                ms_error("run: DL/T645 TCP on %s: %s", o->dlt645_tcp, mc_strerror(rc));
                if (have_dl_line) {
                    mc_posix_dlt645_close(&dl_line);
                }
                mc_storage_power_fail(&a->st, ms_app_now(a));
                mc_posix_nvm_close(&file);
                return MS_EXIT_FAIL;
            }
            have_dl_tcp = 1;
            if (restored) {
                mc_auth_guard_restore(&a->model, &dl_tcp.guard, wrong);
            }
        }
    }

    s->last_settlement = a->tariff.last_settlement;
    s->saved_at = a->st.saved_at;
    s->saved_q = a->st.saved_energy_q;
    mc_event_t ev0;
    s->first_event_seq = mc_storage_event_read(&a->st, 0, &ev0) == MC_OK ? ev0.seq : 0u;
    for (unsigned k = 1; k <= MC_TARIFF_RATES; k++) {
        s->rate_q0[k][0] = mc_tariff_energy(&a->tariff, k, MC_TK_ACTIVE_IMPORT);
        s->rate_q0[k][1] = mc_tariff_energy(&a->tariff, k, MC_TK_ACTIVE_EXPORT);
    }
    s->progress = (o->have_until || o->have_duration) ? 0.0 : -1.0;
    s->eta_s = -1.0;
    /* progress on stderr: at --speed max with an end, when the screen does not show it */
    const int show_progress = o->speed_max && s->progress >= 0.0 && !screen;
    s->progress_cr = isatty(STDERR_FILENO) && !isatty(STDOUT_FILENO);

    /* The banner, on stderr in every mode (stdout carries the status lines, the screen or
     * the JSON lines, which stay as they were): what to connect to, as it is now. Before
     * the screen, so that it stays on the terminal (the screen is drawn in the alternate one). */
    fprintf(stderr, "metersim: state %s, meter address %u\n", path, (unsigned)a->model.params.address);
    fprintf(stderr, "metersim: writes need the password (0000H); factory default 6666%s\n",
            o->cal_switch ? "; calibration switch set" : "");
    if (o->new_state) {
        fprintf(stderr, "metersim: --new-state: a new meter, in place of what %s held (%llu bytes)\n", path,
                (unsigned long long)file.file_size);
    }
#ifdef MS_HAVE_MODBUS
    {
        const int v6 = strchr(host, ':') != NULL && host[0] != '[';
        fprintf(stderr, "metersim: Modbus TCP on %s%s%s:%d", v6 ? "[" : "", host[0] != '\0' ? host : "*",
                v6 ? "]" : "", tcp.port);
        static const char *const parity_names[] = { "none", "even", "odd" };
        const char *parity = parity_names[have_rtu && rtu.parity <= 2 ? rtu.parity : 0];
        if (have_rtu) {
            fprintf(stderr, ", Modbus RTU on %s (%lu baud, parity %s)", rtu_dev, (unsigned long)rtu.baud, parity);
        }
        if (o->map != mc_regmap_builtin(NULL) || o->n_units > 0u) { /* the default banner stays as it was */
            fprintf(stderr, ", register map %s at address %u", o->map->name, (unsigned)a->model.params.address);
            for (unsigned u = 0; u < o->n_units; u++) {
                fprintf(stderr, ", %s at unit %u", o->units[u].map->name, (unsigned)o->units[u].id);
            }
        }
        char cmd[400];
        mbpoll_tcp(s, cmd, sizeof(cmd));
        if (s->map == mc_regmap_builtin(NULL)) {
            fprintf(stderr, "\nmetersim: read U I P Q S PF F with (mbpoll's -r is 1-based: 0030H is -r 49):\n    %s\n",
                    cmd);
        } else {
            fprintf(stderr, "\nmetersim: read the %s map with (docs/REGISTERS.md):\n    %s\n", s->map->name, cmd);
        }
        if (have_rtu && s->map == mc_regmap_builtin(NULL)) {
            /* the client is on the other end of the line (of a pty pair, of the cable) */
            fprintf(stderr, "    mbpoll -m rtu -b %lu -P %s -a %u -r 49 -c 7 -t 4:float%s <the line's other end>\n",
                    (unsigned long)rtu.baud, parity, (unsigned)a->model.params.address,
                    a->model.params.word_order == 1 ? "" : " -B");
        }
    }
#else
    fprintf(stderr, "metersim: no Modbus server (this metersim was built without libmodbus)\n");
#endif
    if (have_dl_line || have_dl_tcp) {
        fprintf(stderr, "metersim: DL/T645 address %s",
                o->dlt645_address != NULL ? o->dlt645_address : "000000000001");
        if (have_dl_line) {
            fprintf(stderr, ", on %s (%lu baud, parity %s%s)", dl_dev, (unsigned long)dl_line.baud,
                    dl_parity == 'E' ? "even" : dl_parity == 'O' ? "odd" : "none",
                    dl_line.parity_applied ? "" : ", not applied: a pty");
        }
        if (have_dl_tcp) {
            fprintf(stderr, ", raw frames on TCP %s:%d", dl_host, dl_tcp.port);
        }
        fprintf(stderr, "\n");
    }
    fflush(stderr);
    if (screen) {
        screen_enter();
        const mc_panel_port_t pport = { NULL, panel_event, panel_wifi_reset, s };
        if (mc_panel_init(&s->panel, &a->model, &pport, panel_now(s)) == MC_OK) {
            s->have_panel = 1;
            tty_cbreak();
        }
    }

    mc_time_t stop_at = MC_TIME_MAX;
    if (o->have_until) {
        stop_at = o->until;
    }
    if (o->have_duration && (uint64_t)start + o->duration < stop_at) {
        stop_at = start + (mc_time_t)o->duration;
    }
    /* --duration counts simulated seconds from here, whatever clock sets happen */
    const uint64_t stop_samples = o->have_duration ? (uint64_t)o->duration * MS_SAMPLE_RATE : UINT64_MAX;

    const double t0 = mono_s();
    double next_show = t0 + 1.0, last_poll = t0;
    uint64_t sim_seconds = 0;
    unsigned household_minute = UINT32_MAX;
    ms_wave_t w;
    static ms_frame_wave_t fw; /* poly-phase: the load of this minute */
    if (s->poly && o->load != NULL) {
        ms_frame_from_load(&s->fixed, &o->wiring, &fw);
    }
    while (!g_stop) {
        const mc_time_t now = ms_app_now(a);
        if (now >= stop_at || a->samples >= stop_samples) {
            break;
        }
        if (s->poly) { /* the poly-phase line: the business day or the balanced --load */
            if (o->load == NULL && now / 60u != household_minute) {
                household_minute = now / 60u;
                ms_business(now, &o->wiring, &fw);
            }
            static ms_frame_wave_t fline;
            fline = fw;
            if (!mc_model_relay(&a->model)) {
                ms_frame_no_current(&fline);
            }
            set_frames(s, &fline);
            feed(s, MS_SAMPLE_RATE);
        } else {
            /* the load for this second */
            if (o->load != NULL) {
                w = s->fixed;
            } else if (now / 60u != household_minute) {
                household_minute = now / 60u;
                ms_household(now, &w);
            }
            ms_wave_t line = w;
            if (!mc_model_relay(&a->model)) {
                memset(line.i, 0, sizeof(line.i));
            }
            set_wave(s, &line);
            feed(s, MS_SAMPLE_RATE);
        }
        sim_seconds++;
        int err = mc_storage_poll(&a->st, ms_app_now(a));
        if (err < 0 && s->storage_err == 0) {
            s->storage_err = err;
            ms_error("run: storage: %s (the meter keeps running)", mc_strerror(err));
        }
        /* serve Modbus and keep the pace */
        double real = mono_s();
        const double target = o->speed_max ? real : t0 + (double)sim_seconds / o->speed;
        do {
            double wait = target - real;
            if (wait > next_show - real) {
                wait = next_show - real;
            }
            if (wait < 0.0) {
                wait = 0.0;
            }
#ifdef MS_HAVE_MODBUS
            if (!o->speed_max || real - last_poll >= 0.002) {
                int ms = (int)(wait * 1000.0);
                if (ms > 50) {
                    ms = 50;
                }
                if (have_rtu) { /* the RTU framer wants frequent polls: split the wait */
                    int r2 = mc_posix_modbus_poll(&rtu, ms / 2);
                    if (r2 > 0) {
                        s->mb_requests += (uint64_t)r2;
                    }
                    ms -= ms / 2;
                }
                int r1 = have_tcp ? mc_posix_modbus_poll(&tcp, ms) : 0;
                if (r1 > 0) {
                    s->mb_requests += (uint64_t)r1;
                }
                last_poll = mono_s();
            } else if (wait > 0.0) {
                usleep((useconds_t)(wait * 1e6));
            }
#else
            (void)last_poll;
            if (wait > 0.0) {
                usleep((useconds_t)(wait > 0.05 ? 50000 : wait * 1e6));
            }
#endif
            if (have_dl_line) { /* DL/T645: what arrived since, without waiting */
                const int r3 = mc_posix_dlt645_poll(&dl_line, 0);
                s->mb_requests += r3 > 0 ? (uint64_t)r3 : 0u;
            }
            if (have_dl_tcp) {
                const int r4 = mc_posix_dlt645_poll(&dl_tcp, 0);
                s->mb_requests += r4 > 0 ? (uint64_t)r4 : 0u;
            }
            if (s->have_panel) {
                const int acted = panel_keys(s);
                mc_panel_tick(&s->panel, panel_now(s));
                if (acted) {
                    print_status(s, mono_s() - t0, 0);
                }
            }
            real = mono_s();
            if (real >= next_show) {
                if (s->progress >= 0.0) {
                    const mc_time_t now_t = ms_app_now(a); /* a clock set backwards counts as none */
                    const double by_time = stop_at != MC_TIME_MAX && stop_at > start && now_t > start
                                               ? (double)(now_t - start) / (double)(stop_at - start) : 0.0;
                    const double by_samples = stop_samples != UINT64_MAX
                                                  ? (double)a->samples / (double)stop_samples : 0.0;
                    s->progress = by_time > by_samples ? by_time : by_samples;
                    if (s->progress > 1.0) {
                        s->progress = 1.0;
                    }
                    s->eta_s = s->progress > 0.001 ? (real - t0) * (1.0 - s->progress) / s->progress : -1.0;
                    if (show_progress) {
                        print_progress(s, 0, real - t0);
                    }
                }
                print_status(s, real - t0, 0);
                next_show += 1.0;
                if (next_show < real) {
                    next_show = real + 1.0;
                }
            }
        } while (!g_stop && real < target);
    }

    /* power-fail warning (signal) or the end of the run: the window under way is closed
     * and booked (every sample fed is in the energy), then saved */
    const int reached_end = !g_stop;
    tty_restore();
    const int had_screen = g_alt_screen;
    screen_leave();
    if (had_screen && s->storage_err != 0) { /* said on the alternate screen, gone with it */
        ms_error("run: storage: %s during the run (the meter kept running)", mc_strerror(s->storage_err));
    }
    if (show_progress && reached_end) {
        print_progress(s, 1, mono_s() - t0);
    } else if (g_progress_open) {
        fputc('\n', stderr);
    }
    mc_meter_flush(&a->meter);
    book_windows(s);
    const mc_time_t end = ms_app_now(a);
    rc = mc_storage_power_fail(&a->st, end);
    note_progress(s);
    print_summary(s, mono_s() - t0); /* text: before the final status line, which stays the last */
    print_status(s, mono_s() - t0, 1);
#ifdef MS_HAVE_MODBUS
    if (have_rtu) {
        mc_posix_modbus_close(&rtu);
    }
    if (have_tcp) {
        mc_posix_modbus_close(&tcp);
    }
#endif
    if (have_dl_line) {
        mc_posix_dlt645_close(&dl_line);
    }
    if (have_dl_tcp) {
        mc_posix_dlt645_close(&dl_tcp);
    }
    const int crc = mc_posix_nvm_close(&file);
    free(s->bv);
    free(s->bi);
    free(s->bf);
    if (rc != MC_OK || crc != MC_OK) {
        ms_error("run: saving the state failed (%s)", mc_strerror(rc != MC_OK ? rc : crc));
        return MS_EXIT_FAIL;
    }
    return MS_EXIT_OK;
}
