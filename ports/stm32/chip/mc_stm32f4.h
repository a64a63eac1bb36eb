/**
 * @file mc_stm32f4.h
 * @ingroup grp_stm32
 * @brief Register-level drivers for the STM32F4 family (F405/F407/F415/F417),
 *        written for metercore from the reference manual's facts (RM0090): no
 *        vendor HAL or CMSIS file is used.
 *
 * chip/ knows the chip and nothing of a board: pins, clock sources and rates
 * are parameters, chosen by a board (`boards/<name>/board.c`). Each driver keeps
 * its state in a caller-allocated instance; the board owns the instances and
 * calls the drivers' interrupt functions from the vector handlers it defines.
 *
 * Clocks assumed by the drivers that take a clock argument: the board passes
 * the frequency it configured (168 MHz core, APB1 42 MHz with timers at 84 MHz,
 * APB2 84 MHz after mc_f4_clock_init()).
 * SPDX-License-Identifier: MIT
 */
#ifndef MC_STM32F4_H
#define MC_STM32F4_H

#include <stddef.h>
#include <stdint.h>

#include "metercore/mc_storage.h"
#include "mc_stm32_logic.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Clock tree after mc_f4_clock_init(). */
#define MC_F4_SYSCLK_HZ 168000000u  /**< Core (and SysTick) clock. */
#define MC_F4_APB1_HZ 42000000u     /**< USART2..5 clock. */
#define MC_F4_APB1_TIM_HZ 84000000u /**< TIM2..7, TIM12..14 clock (APB1 x 2). */
#define MC_F4_APB2_HZ 84000000u     /**< USART1/6, ADC clock. */

/* ---- clock -------------------------------------------------------------------------- */

/**
 * @brief 168 MHz from an external crystal: HSE on, PLL (VCO 336 MHz, /2 core, /7
 *        USB 48 MHz), flash 5 wait states with prefetch and caches, AHB /1, APB1 /4,
 *        APB2 /2. Waits on the ready flags, with a bound.
 * @param hse_hz  crystal frequency, a multiple of 2 MHz from 4 to 26 MHz.
 * @return 0, or -1 if the crystal or the PLL did not start (the chip then stays on
 *         the 16 MHz internal oscillator).
 */
int mc_f4_clock_init(uint32_t hse_hz);

/** Enable the floating-point unit (full access to CP10/CP11). Call first in the reset path. */
void mc_f4_fpu_enable(void);

/** Reset the chip (SYSRESETREQ). */
void mc_f4_reset(void) __attribute__((noreturn));

/* ---- SysTick: the millisecond clock --------------------------------------------------- */

/**
 * @brief SysTick interrupt every millisecond from the core clock, at the highest
 *        priority (so that a reading of mc_f4_systick_us() from any handler is
 *        consistent).
 * @param core_hz  core clock.
 */
void mc_f4_systick_init(uint32_t core_hz);
/** Call from SysTick_Handler: counts the millisecond. */
void mc_f4_systick_irq(void);
/**
 * @brief The millisecond clock.
 * @return milliseconds since mc_f4_systick_init() (wraps after 49.7 days).
 */
uint32_t mc_f4_ms(void);
/**
 * @brief The microsecond clock from the tick count and the SysTick counter.
 *
 * Never goes back (a pending, not yet counted tick is included; under emulation, where
 * counter and tick drift apart by up to a millisecond, the time is held instead); with
 * interrupts masked across more than one tick it falls behind by the ticks missed.
 * @return microseconds since mc_f4_systick_init() (wraps after 71 minutes).
 */
uint32_t mc_f4_systick_us(void);
/**
 * @brief Busy-wait on the SysTick clock.
 * @param us  the least number of microseconds to wait.
 */
void mc_f4_delay_us(uint32_t us);

/* ---- GPIO ----------------------------------------------------------------------------- */

/** GPIO ports, as numbers (A = 0). */
enum { MC_GPIOA = 0, MC_GPIOB, MC_GPIOC, MC_GPIOD, MC_GPIOE };
/**
 * @brief Make a pin a push-pull output, low speed, driven to @p level. Enables
 *        the port clock.
 * @param port   MC_GPIOA.. (0..4).
 * @param pin    0..15.
 * @param level  0 low, otherwise high.
 */
void mc_f4_gpio_output(unsigned port, unsigned pin, unsigned level);
/**
 * @brief Make a pin an input. Enables the port clock.
 * @param port     MC_GPIOA.. (0..4).
 * @param pin      0..15.
 * @param pull_up  1 with the internal pull-up, 0 floating.
 */
void mc_f4_gpio_input(unsigned port, unsigned pin, unsigned pull_up);
/**
 * @brief Put a pin in analogue mode (an ADC input). Enables the port clock.
 * @param port  MC_GPIOA.. (0..4).
 * @param pin   0..15.
 */
void mc_f4_gpio_analog(unsigned port, unsigned pin);
/**
 * @brief Give a pin to a peripheral: alternate function @p af, push-pull, high
 *        speed, pull-up. Enables the port clock.
 * @param port  MC_GPIOA.. (0..4).
 * @param pin   0..15.
 * @param af    alternate function number 0..15 (the datasheet's pin table).
 */
void mc_f4_gpio_af(unsigned port, unsigned pin, unsigned af);
/**
 * @brief Drive an output (atomic: through BSRR).
 * @param port   MC_GPIOA.. (0..4).
 * @param pin    0..15.
 * @param level  0 low, otherwise high.
 */
static inline void mc_f4_gpio_write(unsigned port, unsigned pin, unsigned level)
{
    *(volatile uint32_t *)(uintptr_t)(0x40020018u + 0x400u * port) = level ? (1u << pin) : (1u << (pin + 16u));
}
/**
 * @brief Read a pin.
 * @param port  MC_GPIOA.. (0..4).
 * @param pin   0..15.
 * @return its level, 0 or 1.
 */
static inline unsigned mc_f4_gpio_read(unsigned port, unsigned pin)
{
    return (*(volatile uint32_t *)(uintptr_t)(0x40020010u + 0x400u * port) >> pin) & 1u;
}

/* ---- USART with an RS485 direction pin ------------------------------------------------- */

/** USART configuration. */
typedef struct mc_f4_usart_config {
    uint32_t base;          /**< USART1_BASE (0x40011000) or USART2_BASE (0x40004400). */
    uint32_t pclk_hz;       /**< Its bus clock (APB2 for USART1/6, APB1 for the others). */
    int de_port;            /**< RS485 driver-enable pin (high while sending), or -1 for none. */
    unsigned de_pin;        /**< Its pin number. */
    uint8_t tx_interrupt;   /**< 1: transmit from the TXE/TC interrupt (send() returns at once);
                                 0: polled (send() returns when the last stop bit is out). */
    uint8_t rx_interrupt;   /**< 1: receive into the queue from the RXNE interrupt. */
    uint32_t (*now_us)(void); /**< Microsecond clock stamping each received byte. */
} mc_f4_usart_config_t;

/** USART instance. */
typedef struct mc_f4_usart {
    mc_f4_usart_config_t cfg;     /**< Configuration. */
    mc_stm32_rxq_t rxq;           /**< Received bytes with their times. */
    uint8_t tx[256];              /**< Transmit buffer (interrupt mode). */
    volatile uint16_t tx_len;     /**< Bytes in tx. */
    volatile uint16_t tx_pos;     /**< Next byte to send. */
    volatile uint8_t tx_busy;     /**< A transmission is under way (DE high). */
    volatile uint8_t line_pending; /**< New line settings wait for the end of the transmission. */
    uint32_t pending_baud;        /**< Those settings. */
    uint8_t pending_parity;       /**< Parity code: 0 none, 1 even, 2 odd. */
    volatile uint32_t parity_errors;  /**< Bytes received with a parity error (dropped). */
    volatile uint32_t framing_errors; /**< Bytes with a framing error or noise (dropped). */
    volatile uint32_t overruns;       /**< Bytes lost in the receiver (ORE). */
} mc_f4_usart_t;

/**
 * @brief Start a USART: 8 data bits, @p parity (0 none, 1 even, 2 odd), 1 stop bit
 *        with parity and 2 without (the 11-bit character of Modbus RTU; a receiver set
 *        for 1 stop bit takes it too),
 *        receive interrupt enabled at priority 2 if configured.
 * @param u       the instance.
 * @param cfg     which USART, its clock, the DE pin and the interrupt choices (copied).
 * @param baud    baud rate.
 * @param parity  0 none, 1 even, 2 odd.
 * @return 0, or -1 for a bad argument.
 */
int mc_f4_usart_init(mc_f4_usart_t *u, const mc_f4_usart_config_t *cfg, uint32_t baud, uint8_t parity);
/**
 * @brief Change baud rate and parity. If a transmission is under way (interrupt
 *        mode) the change waits for its last stop bit, so a reply goes out whole
 *        at the old settings.
 * @param u       the instance.
 * @param baud    new baud rate (0 is ignored).
 * @param parity  0 none, 1 even, 2 odd (another value is ignored).
 */
void mc_f4_usart_set_line(mc_f4_usart_t *u, uint32_t baud, uint8_t parity);
/**
 * @brief Send @p len bytes (at most 256), driving DE high for the whole transmission.
 * @param u     the instance.
 * @param data  the bytes (copied in interrupt mode).
 * @param len   their number.
 * @return 0; -1 if @p len is too large or a transmission is still under way (interrupt mode).
 */
int mc_f4_usart_send(mc_f4_usart_t *u, const uint8_t *data, size_t len);
/**
 * @brief Whether a transmission is under way.
 * @param u  the instance.
 * @return 1 while sending (DE high), else 0.
 */
int mc_f4_usart_busy(const mc_f4_usart_t *u);
/**
 * @brief Call from the USART's interrupt handler: receives into the queue,
 *        transmits in interrupt mode.
 * @param u  the instance.
 */
void mc_f4_usart_irq(mc_f4_usart_t *u);

/* ---- TIM5: the microsecond clock with a compare alarm ----------------------------------- */

/**
 * @brief TIM5 free-running at 1 MHz (32 bits: wraps after 71 minutes); its interrupt at
 *        priority 1 serves the compare alarm.
 * @param tim_clk_hz  TIM5's clock (84 MHz after mc_f4_clock_init()).
 */
void mc_f4_us_timer_init(uint32_t tim_clk_hz);
/**
 * @brief The microsecond clock.
 * @return TIM5's current count, in microseconds.
 */
uint32_t mc_f4_us_timer_now(void);
/**
 * @brief Raise the TIM5 interrupt when the count reaches @p t_us (one alarm; a
 *        new call replaces it).
 * @param t_us  the time of the alarm on the microsecond clock.
 */
void mc_f4_us_timer_alarm(uint32_t t_us);
/** Cancel the alarm. */
void mc_f4_us_timer_alarm_off(void);
/**
 * @brief Mask or unmask the TIM5 interrupt, around main-loop code that shares
 *        state with it.
 * @param masked  1 to mask, 0 to unmask.
 */
void mc_f4_us_timer_mask(int masked);
/**
 * @brief Call from TIM5_IRQHandler: clears the flag.
 * @return 1 if the alarm fired, else 0.
 */
int mc_f4_us_timer_irq(void);

/* ---- ADC: voltage and current sampled together, timer-triggered, DMA double buffer ------- */

/** Sample pairs per DMA half: 80 = one 50 Hz cycle at 4 kHz, 20 ms of slack. */
#define MC_F4_ADC_BLOCK 80u

/** ADC clock: APB2 / 4 (ADC_CCR ADCPRE), 21 MHz after mc_f4_clock_init(). */
#define MC_F4_ADC_CLK_HZ (MC_F4_APB2_HZ / 4u)

/** Block bookkeeping of an ADC binding's DMA double buffer (both bindings below). */
typedef struct mc_f4_adc_dma {
    volatile int8_t ready;            /**< Index of the completed buffer waiting, or -1. */
    volatile uint32_t blocks;         /**< Blocks completed by the DMA. */
    volatile uint32_t overruns;       /**< Blocks overwritten before they were taken. */
    volatile uint32_t errors;         /**< DMA transfer errors. */
    uint32_t block_us;                /**< Duration of a block, µs. */
    uint32_t last_tc_us;              /**< Time of the previous transfer-complete interrupt. */
    uint8_t have_tc;                  /**< last_tc_us is valid. */
} mc_f4_adc_dma_t;

/** ADC acquisition instance (single phase: one voltage, one current). */
typedef struct mc_f4_adc {
    uint32_t buf[2][MC_F4_ADC_BLOCK]; /**< DMA buffers: (ADC2 << 16) | ADC1 per pair. */
    mc_f4_adc_dma_t dma;              /**< Blocks completed, taken, lost. */
    uint32_t sample_hz;               /**< Sample rate. */
} mc_f4_adc_t;

/**
 * @brief Sample ADC1 channel @p u_channel (voltage) and ADC2 channel @p i_channel
 *        (current) simultaneously at @p sample_hz, triggered by TIM2's update event,
 *        12-bit, 144-cycle sampling, moved by DMA2 stream 0 in double-buffer mode
 *        (interrupt priority 1). The pins must already be analogue inputs. The
 *        timer starts last, on return: sample 0 is taken one sample period later.
 * @param a          the instance.
 * @param sample_hz  1000..64000, such that @p tim_clk_hz / sample_hz is an integer
 *                   (else the rate is rounded: mc_f4_adc_t::sample_hz gives it).
 * @param tim_clk_hz TIM2's clock.
 * @param u_channel  ADC1 input channel of the voltage (0..9).
 * @param i_channel  ADC2 input channel of the current (0..9).
 * @return 0, or -1 for a bad argument.
 */
int mc_f4_adc_start(mc_f4_adc_t *a, uint32_t sample_hz, uint32_t tim_clk_hz, unsigned u_channel,
                    unsigned i_channel);
/**
 * @brief Take the completed block, if any, as signed codes around mid-scale.
 * @param a  the instance.
 * @param v  receives ::MC_F4_ADC_BLOCK voltage codes (code - 2048).
 * @param i  receives ::MC_F4_ADC_BLOCK current codes.
 * @return ::MC_F4_ADC_BLOCK, or 0 if no block is waiting.
 */
size_t mc_f4_adc_take(mc_f4_adc_t *a, int32_t *v, int32_t *i);
/**
 * @brief Call from DMA2_Stream0_IRQHandler with the microsecond clock.
 *
 * When the interrupt was held off for more than a block (the CPU stalled on a
 * flash erase, say), the blocks the DMA completed meanwhile are counted in
 * mc_f4_adc_dma_t::overruns from the time elapsed since the previous interrupt,
 * since only one interrupt is seen for all of them.
 * @param a       the instance.
 * @param now_us  the microsecond clock.
 */
void mc_f4_adc_dma_irq(mc_f4_adc_t *a, uint32_t now_us);

/* ---- ADC: three ADCs in triple regular simultaneous mode (poly-phase front ends) --------- */

/** Most conversions per ADC per trigger (ranks of each ADC's regular sequence). */
#define MC_F4_ADC_TRIPLE_RANKS 3u
/** Conversion slots per trigger: 3 ADCs x the ranks. */
#define MC_F4_ADC_TRIPLE_SLOTS (3u * MC_F4_ADC_TRIPLE_RANKS)
/** Sampling time of every channel of the triple binding, ADC clock cycles. */
#define MC_F4_ADC_TRIPLE_SMP_CYCLES 84u
/**
 * Spacing of two ranks, ADC clock cycles: sampling plus 12 cycles of 12-bit
 * conversion. Rank r (0-based) of every ADC is sampled r x this after rank 0:
 * 96 cycles at 21 MHz = 4.571 µs (0.0823° at 50 Hz, 0.0987° at 60 Hz).
 */
#define MC_F4_ADC_TRIPLE_RANK_CYCLES (MC_F4_ADC_TRIPLE_SMP_CYCLES + 12u)

/**
 * What the triple binding converts and how it hands the frames out. At each rank
 * the three ADCs convert simultaneously (one sampling instant); rank after rank
 * follows at ::MC_F4_ADC_TRIPLE_RANK_CYCLES. A channel the frames want from the
 * same instant as another must lie in the same rank on another ADC.
 */
typedef struct mc_f4_adc_triple_config {
    uint8_t ranks;                                   /**< Conversions per ADC per trigger, 1..3. */
    uint8_t channel[3][MC_F4_ADC_TRIPLE_RANKS];      /**< [ADC1..3][rank]: input channel 0..15 (ADC3 on
                                                          an LQFP64 reaches 0..3 and 10..13 only). */
    uint8_t frame_channels;                          /**< Channels per frame handed out, 1..9. */
    uint8_t frame_slot[MC_F4_ADC_TRIPLE_SLOTS];      /**< Frame channel k is slot rank x 3 + ADC index
                                                          (0 = ADC1): the reorder into the core's order. */
} mc_f4_adc_triple_config_t;

/** Triple ADC acquisition instance. */
typedef struct mc_f4_adc_triple {
    uint16_t buf[2][MC_F4_ADC_BLOCK * MC_F4_ADC_TRIPLE_SLOTS]; /**< DMA buffers: per trigger, rank by
                                                          rank, ADC1 ADC2 ADC3 (DMA mode 1). */
    mc_f4_adc_dma_t dma;                             /**< Blocks completed, taken, lost. */
    mc_f4_adc_triple_config_t cfg;                   /**< The sequences and the frame order. */
    uint32_t sample_hz;                              /**< Trigger (frame) rate. */
} mc_f4_adc_triple_t;

/**
 * @brief Sample up to nine inputs on ADC1, ADC2 and ADC3 in triple regular
 *        simultaneous mode (ADC_CCR MULTI = 10110b, RM0090 13.9.2), triggered by
 *        TIM2's update event at @p sample_hz: each trigger converts every ADC's
 *        sequence of cfg->ranks channels, 12-bit, ::MC_F4_ADC_TRIPLE_SMP_CYCLES
 *        sampling, the three ADCs of a rank at the same instant. DMA2 stream 0 (DMA
 *        mode 1: ADC1, ADC2, ADC3 half-words, rank by rank) fills two buffers of
 *        ::MC_F4_ADC_BLOCK triggers (double-buffer mode, interrupt priority 1). The
 *        pins must already be analogue inputs; the timer starts last, on return.
 * @param a           the instance.
 * @param sample_hz   1000..64000 (rounded as mc_f4_adc_start() does).
 * @param tim_clk_hz  TIM2's clock.
 * @param cfg         the sequences and frame order (copied).
 * @return 0, or -1 for a bad argument: ranks or frame_channels out of range, a
 *         channel above 15, a slot beyond the sequences, or one channel in the same
 *         rank of two ADCs (RM0090 forbids converting a channel on two ADCs at once).
 */
int mc_f4_adc_triple_start(mc_f4_adc_triple_t *a, uint32_t sample_hz, uint32_t tim_clk_hz,
                           const mc_f4_adc_triple_config_t *cfg);
/**
 * @brief Take the completed block, if any, as frames in the configured order,
 *        signed codes around mid-scale (code - 2048).
 * @param a       the instance.
 * @param frames  receives ::MC_F4_ADC_BLOCK x frame_channels codes.
 * @return ::MC_F4_ADC_BLOCK frames, or 0 if no block is waiting.
 */
size_t mc_f4_adc_triple_take(mc_f4_adc_triple_t *a, int32_t *frames);
/**
 * @brief Call from DMA2_Stream0_IRQHandler with the microsecond clock (as
 *        mc_f4_adc_dma_irq(), lost blocks counted the same way).
 * @param a       the instance.
 * @param now_us  the microsecond clock.
 */
void mc_f4_adc_triple_dma_irq(mc_f4_adc_triple_t *a, uint32_t now_us);

/* ---- Internal flash as the metercore NVM ------------------------------------------------ */

/**
 * Internal flash presented to the storage layer as equal logical sectors: each
 * logical sector is the start of one physical sector (the rest of a larger
 * physical sector stays unused), so erasing a logical sector erases exactly one
 * physical sector and nothing the storage layer owns beside it.
 */
typedef struct mc_f4_flash_nvm {
    const uint32_t *addr;   /**< Start address of each logical sector. */
    const uint8_t *snb;     /**< Physical sector number (FLASH_CR.SNB) of each. */
    uint32_t count;         /**< Number of logical sectors (8..). */
    uint32_t size;          /**< Logical sector size (not above the smallest physical sector used). */
    volatile uint32_t erases;   /**< Sector erases done. */
    volatile uint32_t failures; /**< Operations that ended with an error flag. */
} mc_f4_flash_nvm_t;

/**
 * @brief Fill @p nvm with callbacks over @p f: 4-byte programming unit (32-bit
 *        parallelism: 2.7..3.6 V supply), erased value 0xFF.
 *
 * Erasing a 128 KiB sector takes 1..2 s, programming a word 16 µs; the CPU stalls
 * on flash reads meanwhile, so interrupts and main loop stop: the ADC's DMA goes
 * on into RAM but blocks overwritten meanwhile are counted as overruns. The
 * storage layer erases a sector only when a ring enters it.
 * @param f    the logical sectors (kept by reference: it must outlive @p nvm).
 * @param nvm  filled with the geometry and callbacks.
 */
void mc_f4_flash_nvm_bind(mc_f4_flash_nvm_t *f, mc_nvm_t *nvm);

/* ---- RTC (LSE 32.768 kHz, battery backed) ----------------------------------------------- */

/**
 * @brief Enable backup-domain access, start the LSE and clock the RTC from it
 *        (if it was not already running from a previous power-up). Waits up to
 *        3 s for the crystal on the SysTick clock: call mc_f4_systick_init() first.
 * @return 0, 1 if the RTC had to be started (time invalid: set it), -1 if the LSE failed.
 */
int mc_f4_rtc_init(void);
/**
 * @brief Read the calendar.
 * @param t  receives local standard time (seconds since 2000-01-01).
 * @return 0, or -1 if the calendar holds no valid date.
 */
int mc_f4_rtc_get(mc_time_t *t);
/**
 * @brief Set the calendar.
 * @param t  local standard time.
 * @return 0, or -1 (time outside 2000..2099, or the RTC did not enter init mode).
 */
int mc_f4_rtc_set(mc_time_t t);

/* ---- Power-voltage detector: the power-fail warning ------------------------------------- */

/**
 * @brief Interrupt (EXTI line 16, priority 0) when VDD falls under the PVD level
 *        @p pls; the handler must call mc_f4_pvd_irq().
 * @param pls  the level, 0..7 for 2.0..2.9 V.
 */
void mc_f4_pvd_init(unsigned pls);
/**
 * @brief Call from PVD_IRQHandler: clears the line.
 * @return 1 if VDD is below the level, else 0.
 */
int mc_f4_pvd_irq(void);

/* ---- Independent watchdog ---------------------------------------------------------------- */

/**
 * @brief Start the watchdog (32 kHz LSI, /64). It cannot be stopped.
 * @param ms  the timeout, about; up to 8 s.
 */
void mc_f4_iwdg_start(uint32_t ms);
/** Reload it. */
void mc_f4_iwdg_kick(void);

#ifdef __cplusplus
}
#endif

#endif
