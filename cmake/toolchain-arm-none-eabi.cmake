# Cross toolchain: arm-none-eabi-gcc (GNU Arm Embedded / Debian gcc-arm-none-eabi)
# with newlib, for bare-metal Cortex-M.
#
#   cmake -S . -B build/m4f -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-arm-none-eabi.cmake \
#         -DMC_ARM_CPU=cortex-m4f
#
# MC_ARM_CPU selects the core and float ABI:
#   cortex-m0plus  -mcpu=cortex-m0plus -mthumb                   (soft float)
#   cortex-m4f     -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard
#
# The CPU flags are the ABI of everything built with this toolchain (including
# CMake's own compiler checks), so they go into the toolchain's *_FLAGS_INIT;
# project flags stay on targets.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(MC_ARM_TRIPLE arm-none-eabi CACHE STRING "Prefix of the cross tools")
set(CMAKE_C_COMPILER ${MC_ARM_TRIPLE}-gcc)
set(CMAKE_ASM_COMPILER ${MC_ARM_TRIPLE}-gcc)

# Bare metal: CMake cannot link test programs without a startup file and
# linker script, so its checks build static libraries instead.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(MC_ARM_CPU cortex-m4f CACHE STRING "Target core: cortex-m0plus or cortex-m4f")
set_property(CACHE MC_ARM_CPU PROPERTY STRINGS cortex-m0plus cortex-m4f)
# Pass the choice on to try_compile() projects, which re-read this file.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES MC_ARM_CPU MC_ARM_TRIPLE)

if(MC_ARM_CPU STREQUAL "cortex-m0plus")
    set(_mc_cpu_flags "-mcpu=cortex-m0plus -mthumb -mfloat-abi=soft")
elseif(MC_ARM_CPU STREQUAL "cortex-m4f")
    set(_mc_cpu_flags "-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard")
else()
    message(FATAL_ERROR "MC_ARM_CPU must be cortex-m0plus or cortex-m4f (got '${MC_ARM_CPU}')")
endif()

set(CMAKE_C_FLAGS_INIT "${_mc_cpu_flags} -ffunction-sections -fdata-sections")
set(CMAKE_ASM_FLAGS_INIT "${_mc_cpu_flags}")
# Only for firmware images a user links with this toolchain (newlib, no OS).
set(CMAKE_EXE_LINKER_FLAGS_INIT "--specs=nano.specs --specs=nosys.specs -Wl,--gc-sections")

# Libraries and headers come from the cross toolchain, programs from the host.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
