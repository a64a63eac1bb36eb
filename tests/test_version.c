/*
 * The version: the macros of mc_common.h, the functions of the linked library
 * and the CMake project version (MC_PROJECT_VERSION, passed by the build) must
 * all say the same thing.
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "metercore/metercore.h"

#ifndef MC_PROJECT_VERSION
#error "MC_PROJECT_VERSION (CMake's PROJECT_VERSION) must be defined by the build"
#endif

static void string_matches_numbers(void **state)
{
    (void)state;
    char expect[32];
    snprintf(expect, sizeof(expect), "%d.%d.%d", MC_VERSION_MAJOR, MC_VERSION_MINOR, MC_VERSION_PATCH);
    assert_string_equal(MC_VERSION_STRING, expect);
    assert_non_null(mc_version());
    assert_string_equal(mc_version(), expect);
}

static void number_matches_parts(void **state)
{
    (void)state;
    /* Each part must fit its byte of 0xMMmmpp. */
    assert_in_range(MC_VERSION_MAJOR, 0, 255);
    assert_in_range(MC_VERSION_MINOR, 0, 255);
    assert_in_range(MC_VERSION_PATCH, 0, 255);
    assert_int_equal(mc_version_number(), (uint32_t)MC_VERSION);
    assert_int_equal(mc_version_number() >> 16, MC_VERSION_MAJOR);
    assert_int_equal((mc_version_number() >> 8) & 0xFFu, MC_VERSION_MINOR);
    assert_int_equal(mc_version_number() & 0xFFu, MC_VERSION_PATCH);
}

static void cmake_project_version(void **state)
{
    (void)state;
    assert_string_equal(mc_version(), MC_PROJECT_VERSION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(string_matches_numbers),
        cmocka_unit_test(number_matches_parts),
        cmocka_unit_test(cmake_project_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
