/**
 * @file metercore.h
 * @ingroup grp_core
 * @brief Umbrella header: include this to use every metercore module.
 *
 * metercore turns voltage and current ADC sample streams into what a
 * revenue-grade energy meter of any wiring reports. See mc_meter.h for the core
 * and the Modules page for the others.
 */
#ifndef METERCORE_METERCORE_H
#define METERCORE_METERCORE_H

#include "metercore/mc_common.h"
#include "metercore/mc_meter.h"
#include "metercore/mc_calendar.h"
#include "metercore/mc_tariff.h"
#include "metercore/mc_registers.h"
#include "metercore/mc_modbus.h"
#include "metercore/mc_dlt645.h"
#include "metercore/mc_storage.h"
#include "metercore/mc_panel.h"

#endif /* METERCORE_METERCORE_H */
