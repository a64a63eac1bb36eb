/*
 * Semihosting for the QEMU counting images (qemu-system-arm
 * -semihosting-config enable=on,target=native): BKPT 0xAB with the operation in
 * r0 and its argument in r1.
 * SPDX-License-Identifier: MIT
 */
#include "mcq.h"

#define SYS_WRITE0 0x04
#define SYS_EXIT 0x18
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define ADP_STOPPED_RUN_TIME_ERROR 0x20023u

static uint32_t semihost(uint32_t op, uint32_t arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register uint32_t r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void mcq_puts(const char *s)
{
    (void)semihost(SYS_WRITE0, (uint32_t)(uintptr_t)s);
}

static char *decimal(char *end, uint32_t v)
{
    *--end = '\0';
    do {
        *--end = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    return end;
}

void mcq_put_u(const char *name, uint32_t value)
{
    char buf[12];
    mcq_puts(name);
    mcq_puts("=");
    mcq_puts(decimal(buf + sizeof buf, value));
    mcq_puts(" ");
}

void mcq_put_milli(const char *name, int32_t milli)
{
    char buf[16];
    const uint32_t a = milli < 0 ? 0u - (uint32_t)milli : (uint32_t)milli;
    char *p = decimal(buf + sizeof buf, a % 1000u + 1000u); /* "1ddd": keeps the zeros */
    p[0] = '.';
    mcq_puts(name);
    mcq_puts(milli < 0 ? "=-" : "=");
    char ibuf[12];
    mcq_puts(decimal(ibuf + sizeof ibuf, a / 1000u));
    mcq_puts(p);
    mcq_puts(" ");
}

void mcq_exit(int status)
{
    (void)semihost(SYS_EXIT, status == 0 ? ADP_STOPPED_APPLICATION_EXIT : ADP_STOPPED_RUN_TIME_ERROR);
    for (;;) {
    }
}
