/*
 * mcq_count: exact instruction counts from a QEMU execution trace.
 *
 * QEMU runs the image with `-singlestep -d exec,nochain`: every executed
 * instruction is a translation block of its own, logged once as
 *
 *   Trace 0: 0x7f...  [xxxxxxxx/PPPPPPPP/xxxxxxxx/xxxxxxxx] [symbol]
 *
 * with the guest PC as the second field in brackets. This program reads that log
 * on stdin and the image's symbol table (`arm-none-eabi-nm -S --defined-only`
 * output, a file), follows the call stack from the PC stream alone and counts the
 * instructions executed while a root function (mc_meter_process, ...) is on the
 * stack, in three classes:
 *
 *   window  a window function (close_window) is on the stack
 *   cycle   else a cycle function (mc_meter_close_cycle) is on the stack
 *   sample  else (the root itself and everything else it calls)
 *
 * Counting is enabled from the entry of the --on function to the entry of the
 * --off function (markers the harness calls around its steady-state passes).
 *
 * Call stack from PCs:
 *   - PC at a function's first instruction: a call, the function is pushed (a
 *     tail call pushes it on top of its caller, which stays until the callee
 *     returns past both). A branch back to the entry of the function on top (a loop
 *     whose head is the entry) is not a call.
 *   - PC inside the function on top: nothing changes.
 *   - PC inside a function further down the stack: a return, popped to it.
 *   - Otherwise (a jump into another function's body, code without a symbol): the
 *     region is pushed as if called and counted under the current stack ("jumps").
 * Symbols at the same address (aliases) are one function with all their roles.
 *
 * A line "Stopped execution of TB chain before ... [PC]" means that the block
 * logged just before did not run (QEMU left it at its start, e.g. for an exit
 * request) and will be logged again: that line is dropped.
 *
 * Usage:
 *   mcq_count --syms FILE --root N[,N..] [--cycle N,..] [--window N,..]
 *             [--on NAME --off NAME] [--verbose]  < trace
 * A name matches a symbol of that name or with a compiler suffix (name.constprop.0,
 * name.isra.0, name.part.0). Output, one line:
 *   sample=A cycle=B window=C calls=N lines=L stops=S jumps=J cycle_syms=X window_syms=Y
 * (calls: root entries while counting; cycle_syms/window_syms: how many symbols
 * matched, 0 when the split is not available).
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#define MCQ_LINUX 1
#else
#define MCQ_LINUX 0
#endif

enum {
    ROLE_ROOT = 1u << 0,
    ROLE_CYCLE = 1u << 1,
    ROLE_WINDOW = 1u << 2,
    ROLE_ON = 1u << 3,
    ROLE_OFF = 1u << 4,
};

typedef struct fn {
    uint32_t start, end; /* [start, end) */
    unsigned roles;
} fn_t;

typedef struct frame {
    uint32_t start, end;
    unsigned roles;
} frame_t;

#define MAX_DEPTH 4096
#define MAX_LIST 16

static fn_t *fns;
static size_t n_fns, cap_fns;
static frame_t stack[MAX_DEPTH];
static size_t depth;
static long role_on_stack[3]; /* root, cycle, window frames on the stack */
static int enabled, verbose;
static unsigned long long n_sample, n_cycle, n_window, n_calls, n_lines, n_stops, n_jumps, n_stop_mismatch;
static unsigned long long n_other;

typedef struct namelist {
    const char *names[MAX_LIST];
    size_t n;
    unsigned role;
    unsigned matched;
} namelist_t;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "mcq_count: %s%s%s\n", what, detail != NULL ? ": " : "", detail != NULL ? detail : "");
    exit(2);
}

static void split_names(namelist_t *l, char *arg, unsigned role)
{
    l->role = role;
    for (char *tok = strtok(arg, ","); tok != NULL; tok = strtok(NULL, ",")) {
        if (l->n == MAX_LIST) {
            die("too many names", tok);
        }
        l->names[l->n++] = tok;
    }
}

/* name, or name followed by a compiler suffix starting with '.' */
static int name_matches(const char *sym, const char *name)
{
    size_t n = strlen(name);
    return strncmp(sym, name, n) == 0 && (sym[n] == '\0' || sym[n] == '.');
}

static int cmp_fn(const void *a, const void *b)
{
    const fn_t *x = a, *y = b;
    if (x->start != y->start) {
        return x->start < y->start ? -1 : 1;
    }
    return 0;
}

static void load_symbols(const char *path, namelist_t *lists, size_t n_lists)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        die("cannot open symbol file", path);
    }
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        /* "addr size type name" or "addr type name" */
        char a[32], b[32], c[256], d[256];
        int k = sscanf(line, "%31s %31s %255s %255s", a, b, c, d);
        const char *type, *name;
        unsigned long size = 0;
        if (k == 4) {
            size = strtoul(b, NULL, 16);
            type = c;
            name = d;
        } else if (k == 3) {
            type = b;
            name = c;
        } else {
            continue;
        }
        if (strlen(type) != 1 || strchr("tTwW", type[0]) == NULL || name[0] == '$') {
            continue;
        }
        if (n_fns == cap_fns) {
            cap_fns = cap_fns ? 2 * cap_fns : 1024;
            fns = realloc(fns, cap_fns * sizeof *fns);
            if (fns == NULL) {
                die("out of memory", NULL);
            }
        }
        fn_t *e = &fns[n_fns++];
        e->start = (uint32_t)(strtoul(a, NULL, 16) & ~1ul); /* Thumb bit, should nm keep it */
        e->end = e->start + (uint32_t)size;                  /* size 0: fixed below */
        e->roles = 0;
        for (size_t l = 0; l < n_lists; l++) {
            for (size_t j = 0; j < lists[l].n; j++) {
                if (name_matches(name, lists[l].names[j])) {
                    e->roles |= lists[l].role;
                    lists[l].matched++;
                }
            }
        }
    }
    fclose(f);
    if (n_fns == 0) {
        die("no function symbols in", path);
    }
    qsort(fns, n_fns, sizeof *fns, cmp_fn);
    /* Merge aliases (same start): all roles, the largest extent. */
    size_t w = 0;
    for (size_t r = 0; r < n_fns; r++) {
        if (w > 0 && fns[w - 1].start == fns[r].start) {
            fns[w - 1].roles |= fns[r].roles;
            if (fns[r].end > fns[w - 1].end) {
                fns[w - 1].end = fns[r].end;
            }
            continue;
        }
        fns[w++] = fns[r];
    }
    n_fns = w;
    /* A symbol without a size extends to the next one. */
    for (size_t r = 0; r < n_fns; r++) {
        if (fns[r].end <= fns[r].start) {
            fns[r].end = r + 1 < n_fns ? fns[r + 1].start : fns[r].start + 2u;
        }
    }
}

/* The function starting exactly at pc, or NULL. */
static const fn_t *fn_at(uint32_t pc)
{
    size_t lo = 0, hi = n_fns;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (fns[mid].start < pc) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < n_fns && fns[lo].start == pc ? &fns[lo] : NULL;
}

/* The region holding pc: the last function starting at or below it if it covers pc,
 * else the gap between two functions. */
static frame_t region_of(uint32_t pc)
{
    size_t lo = 0, hi = n_fns;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (fns[mid].start <= pc) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    frame_t fr;
    fr.roles = 0;
    if (lo > 0 && pc < fns[lo - 1].end) {
        fr.start = fns[lo - 1].start;
        fr.end = fns[lo - 1].end;
        fr.roles = fns[lo - 1].roles;
    } else {
        fr.start = lo > 0 ? fns[lo - 1].end : 0u;
        fr.end = lo < n_fns ? fns[lo].start : UINT32_MAX;
    }
    return fr;
}

static void role_count(unsigned roles, int delta)
{
    if (roles & ROLE_ROOT) {
        role_on_stack[0] += delta;
    }
    if (roles & ROLE_CYCLE) {
        role_on_stack[1] += delta;
    }
    if (roles & ROLE_WINDOW) {
        role_on_stack[2] += delta;
    }
}

static void push(frame_t fr)
{
    if (depth == MAX_DEPTH) {
        die("call stack deeper than 4096 frames (a loop through a function entry?)", NULL);
    }
    stack[depth++] = fr;
    role_count(fr.roles, +1);
    if ((fr.roles & ROLE_ROOT) && enabled) {
        n_calls++;
    }
}

static void pop_to(size_t new_depth)
{
    while (depth > new_depth) {
        role_count(stack[--depth].roles, -1);
    }
}

static void step(uint32_t pc)
{
    pc &= ~1u;
    const fn_t *f = fn_at(pc);
    if (f != NULL) {
        if (!(depth > 0 && stack[depth - 1].start == f->start)) {
            frame_t fr = { f->start, f->end, f->roles };
            push(fr);
        }
        if (f->roles & ROLE_ON) {
            enabled = 1;
        }
        if (f->roles & ROLE_OFF) {
            enabled = 0;
        }
    } else if (!(depth > 0 && pc >= stack[depth - 1].start && pc < stack[depth - 1].end)) {
        size_t k = depth;
        while (k > 0 && !(pc >= stack[k - 1].start && pc < stack[k - 1].end)) {
            k--;
        }
        if (k > 0) {
            pop_to(k); /* a return into frame k-1 */
        } else {
            frame_t fr = region_of(pc);
            if (role_on_stack[0] > 0 && enabled) {
                n_jumps++;
                if (verbose) {
                    fprintf(stderr, "mcq_count: jump to %08x (region %08x..%08x) while counting\n", (unsigned)pc,
                            (unsigned)fr.start, (unsigned)fr.end);
                }
            }
            push(fr);
        }
    }
    if (enabled && role_on_stack[0] > 0) {
        if (role_on_stack[2] > 0) {
            n_window++;
        } else if (role_on_stack[1] > 0) {
            n_cycle++;
        } else {
            n_sample++;
        }
    }
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Parse the hex number at s (up to 8 digits, 0x optional); -1 if none. */
static long long parse_hex(const char *s, const char *end)
{
    if (end - s >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
    }
    unsigned long long v = 0;
    int digits = 0;
    for (; s < end; s++) {
        int h = hexval((unsigned char)*s);
        if (h < 0) {
            break;
        }
        v = v * 16u + (unsigned)h;
        if (++digits > 16) {
            return -1;
        }
    }
    return digits > 0 && v <= UINT32_MAX ? (long long)v : -1;
}

static int have_pending;
static uint32_t pending;

static void line(const char *s, const char *end)
{
    static const char trace[] = "Trace ";
    static const char stopped[] = "Stopped execution of TB chain before ";
    if ((size_t)(end - s) > sizeof trace - 1 && memcmp(s, trace, sizeof trace - 1) == 0) {
        /* Trace N: HOSTPTR [FLAGS/PC/...] */
        const char *b = memchr(s, '[', (size_t)(end - s));
        const char *slash = b != NULL ? memchr(b, '/', (size_t)(end - b)) : NULL;
        long long pc = slash != NULL ? parse_hex(slash + 1, end) : -1;
        if (pc < 0) {
            die("unreadable trace line", NULL);
        }
        if (have_pending) {
            step(pending);
        }
        pending = (uint32_t)pc;
        have_pending = 1;
        n_lines++;
    } else if ((size_t)(end - s) > sizeof stopped - 1 && memcmp(s, stopped, sizeof stopped - 1) == 0) {
        /* Stopped execution of TB chain before HOSTPTR [PC] sym */
        const char *b = memchr(s, '[', (size_t)(end - s));
        long long pc = b != NULL ? parse_hex(b + 1, end) : -1;
        if (have_pending && pc >= 0 && (uint32_t)pc == pending) {
            have_pending = 0; /* that block did not run */
            n_stops++;
            n_lines--;
        } else {
            n_stop_mismatch++;
        }
    } else {
        n_other++;
    }
}

int main(int argc, char **argv)
{
    const char *syms = NULL;
    namelist_t lists[5];
    memset(lists, 0, sizeof lists);
    lists[0].role = ROLE_ROOT;
    lists[1].role = ROLE_CYCLE;
    lists[2].role = ROLE_WINDOW;
    lists[3].role = ROLE_ON;
    lists[4].role = ROLE_OFF;
    int have_markers = 0;
    for (int a = 1; a < argc; a++) {
        const char *opt = argv[a];
        if (strcmp(opt, "--verbose") == 0) {
            verbose = 1;
            continue;
        }
        if (a + 1 >= argc) {
            die("missing value for", opt);
        }
        char *val = argv[++a];
        if (strcmp(opt, "--syms") == 0) {
            syms = val;
        } else if (strcmp(opt, "--root") == 0) {
            split_names(&lists[0], val, ROLE_ROOT);
        } else if (strcmp(opt, "--cycle") == 0) {
            split_names(&lists[1], val, ROLE_CYCLE);
        } else if (strcmp(opt, "--window") == 0) {
            split_names(&lists[2], val, ROLE_WINDOW);
        } else if (strcmp(opt, "--on") == 0) {
            split_names(&lists[3], val, ROLE_ON);
            have_markers |= 1;
        } else if (strcmp(opt, "--off") == 0) {
            split_names(&lists[4], val, ROLE_OFF);
            have_markers |= 2;
        } else {
            die("unknown option", opt);
        }
    }
    if (syms == NULL || lists[0].n == 0 || (have_markers != 0 && have_markers != 3)) {
        fprintf(stderr, "usage: mcq_count --syms FILE --root N[,N..] [--cycle N,..] [--window N,..] "
                        "[--on NAME --off NAME] [--verbose] < qemu-trace\n");
        return 2;
    }
    load_symbols(syms, lists, 5);
    if (lists[0].matched == 0) {
        die("no symbol matches --root", lists[0].names[0]);
    }
    if (have_markers && (lists[3].matched == 0 || lists[4].matched == 0)) {
        die("marker symbols not found", NULL);
    }
    enabled = !have_markers;

    /* Lines from stdin in large reads (gigabytes go through here). QEMU writes every
     * line with a write() of its own: on a pipe, a reader that waits for each one is
     * woken for each one. So the pipe is made large and the reader, when a read
     * brought little, sleeps a millisecond and lets QEMU fill it. */
    static char buf[1u << 20];
    size_t used = 0;
#if MCQ_LINUX
    (void)fcntl(0, F_SETPIPE_SZ, 1 << 20); /* fails harmlessly on a file or where not allowed */
#endif
    for (;;) {
#if MCQ_LINUX
        ssize_t r = read(0, buf + used, sizeof buf - used);
        if (r < 0) {
            die("read error on stdin", NULL);
        }
        size_t got = (size_t)r;
        if (got > 0 && got < (1u << 16)) {
            const struct timespec ms = { 0, 1000000L };
            nanosleep(&ms, NULL);
        }
#else
        size_t got = fread(buf + used, 1, sizeof buf - used, stdin);
#endif
        used += got;
        char *s = buf, *end = buf + used;
        for (;;) {
            char *nl = memchr(s, '\n', (size_t)(end - s));
            if (nl == NULL) {
                break;
            }
            line(s, nl);
            s = nl + 1;
        }
        used = (size_t)(end - s);
        memmove(buf, s, used);
        if (got == 0) {
            if (used > 0) {
                line(buf, buf + used); /* last line without a newline */
            }
            break;
        }
        if (used == sizeof buf) {
            die("line longer than 1 MiB in the trace", NULL);
        }
    }
    if (have_pending) {
        step(pending);
    }
    if (verbose) {
        fprintf(stderr, "mcq_count: %zu functions, %llu other lines, %llu unmatched stop lines\n", n_fns, n_other,
                n_stop_mismatch);
    }
    if (n_stop_mismatch > 0) {
        fprintf(stderr, "mcq_count: %llu 'Stopped execution' lines without the block before them\n",
                n_stop_mismatch);
        return 1;
    }
    printf("sample=%llu cycle=%llu window=%llu calls=%llu lines=%llu stops=%llu jumps=%llu cycle_syms=%u "
           "window_syms=%u\n",
           n_sample, n_cycle, n_window, n_calls, n_lines, n_stops, n_jumps, lists[1].matched, lists[2].matched);
    return 0;
}
