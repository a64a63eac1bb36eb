/*
 * STM32F4 internal flash as the metercore NVM (see mc_stm32f4.h).
 * Sequence facts from RM0090 section 3: unlock with KEY1/KEY2, one operation
 * at a time (BSY), sector erase with SER + SNB + STRT, programming with PG and
 * 32-bit parallelism, error flags in SR cleared by writing 1.
 * SPDX-License-Identifier: MIT
 */
#include "mc_stm32f4.h"
#include "stm32f4_regs.h"

#include <string.h>

static int flash_wait(mc_f4_flash_nvm_t *f)
{
    while ((FLASH_SR & FLASH_SR_BSY) != 0u) {
    }
    const uint32_t sr = FLASH_SR;
    FLASH_SR = FLASH_SR_ERRORS | FLASH_SR_EOP;
    if ((sr & FLASH_SR_ERRORS) != 0u) {
        f->failures++;
        return MC_ERR_IO;
    }
    return MC_OK;
}

static void flash_unlock(void)
{
    if ((FLASH_CR & FLASH_CR_LOCK) != 0u) {
        FLASH_KEYR = FLASH_KEY1;
        FLASH_KEYR = FLASH_KEY2;
    }
}

static void flash_lock(void)
{
    FLASH_CR = FLASH_CR_LOCK;
}

static int nvm_check(const mc_f4_flash_nvm_t *f, uint32_t sector, uint32_t off, uint32_t size)
{
    return sector < f->count && off <= f->size && size <= f->size - off;
}

static int nvm_read(void *ctx, uint32_t sector, uint32_t off, void *buf, uint32_t size)
{
    const mc_f4_flash_nvm_t *f = ctx;
    if (!nvm_check(f, sector, off, size)) {
        return MC_ERR_IO;
    }
    memcpy(buf, (const void *)(uintptr_t)(f->addr[sector] + off), size);
    return MC_OK;
}

static int nvm_prog(void *ctx, uint32_t sector, uint32_t off, const void *buf, uint32_t size)
{
    mc_f4_flash_nvm_t *f = ctx;
    if (!nvm_check(f, sector, off, size) || off % 4u != 0u || size % 4u != 0u) {
        return MC_ERR_IO;
    }
    int rc = MC_OK;
    flash_unlock();
    FLASH_SR = FLASH_SR_ERRORS | FLASH_SR_EOP;
    FLASH_CR = FLASH_CR_PSIZE_X32 | FLASH_CR_PG;
    volatile uint32_t *dst = (volatile uint32_t *)(uintptr_t)(f->addr[sector] + off);
    const uint8_t *src = buf;
    for (uint32_t k = 0; k < size / 4u; k++) {
        uint32_t word;
        memcpy(&word, src + 4u * k, 4u); /* buf need not be aligned */
        dst[k] = word;
        rc = flash_wait(f);
        if (rc != MC_OK) {
            break;
        }
    }
    flash_lock();
    return rc;
}

static int nvm_erase(void *ctx, uint32_t sector)
{
    mc_f4_flash_nvm_t *f = ctx;
    if (sector >= f->count) {
        return MC_ERR_IO;
    }
    flash_unlock();
    FLASH_SR = FLASH_SR_ERRORS | FLASH_SR_EOP;
    FLASH_CR = FLASH_CR_PSIZE_X32 | FLASH_CR_SER | ((uint32_t)f->snb[sector] << FLASH_CR_SNB_SHIFT);
    FLASH_CR |= FLASH_CR_STRT;
    const int rc = flash_wait(f);
    flash_lock();
    /* The ART data cache may still hold the old contents: flush it (DCEN off, DCRST set
     * then cleared, DCEN back on, each a separate write). */
    const uint32_t acr = FLASH_ACR;
    if ((acr & FLASH_ACR_DCEN) != 0u) {
        FLASH_ACR = acr & ~FLASH_ACR_DCEN;
        FLASH_ACR = (acr & ~FLASH_ACR_DCEN) | FLASH_ACR_DCRST;
        FLASH_ACR = acr & ~(FLASH_ACR_DCEN | FLASH_ACR_DCRST);
        FLASH_ACR = acr;
    }
    f->erases++;
    return rc;
}

void mc_f4_flash_nvm_bind(mc_f4_flash_nvm_t *f, mc_nvm_t *nvm)
{
    memset(nvm, 0, sizeof(*nvm));
    nvm->read = nvm_read;
    nvm->prog = nvm_prog;
    nvm->erase = nvm_erase;
    nvm->context = f;
    nvm->sector_size = f->size;
    nvm->sector_count = f->count;
    nvm->prog_size = 4u;
    nvm->erase_value = 0xFFu;
}
