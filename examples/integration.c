/* Integrating the metercore core into firmware: one meter fed by ADC DMA. */
#include "metercore/metercore.h"

static mc_meter_t meter;
static mc_reading_t last; /* latest window: Urms, Irms, P, Q, S, PF, f (for display) */
static float import_kwh;  /* active import energy, kWh (for display) */

int meter_start(void) /* at boot */
{
    mc_meter_config_t cfg;
    mc_meter_config_default(&cfg);     /* KPM31 ratings: 220 V, 5(60) A, 50 Hz */
    cfg.sample_rate_hz = 4000;
    cfg.u_scale = 400.0f / 8388608.0f; /* volts per code of the voltage channel */
    cfg.i_scale = 100.0f / 8388608.0f; /* amps per code of the current channel */
    return mc_meter_init(&meter, &cfg);
}

/* ADC DMA half-complete / complete interrupt: n simultaneous sample pairs. */
void adc_block_done(const int32_t *v, const int32_t *i, size_t n)
{
    int ev = mc_meter_process(&meter, v, i, n);
    if (ev > 0 && (ev & MC_EVENT_WINDOW)) {
        mc_energy_t e;
        mc_meter_reading(&meter, &last);
        mc_meter_energy(&meter, &e);
        import_kwh = mc_energy_kwh(e.q[MC_E_ACTIVE_IMPORT]);
    }
}
