# cmake -DREADME=README.md -DEXAMPLE=examples/integration.c -P check_readme_example.cmake
#
# Checks that the ```c block following the marker line
#   <!-- example: examples/integration.c -->
# in README is byte for byte the example source, so the README never shows code
# that does not compile.
cmake_minimum_required(VERSION 3.20)
foreach(var README EXAMPLE)
    if(NOT DEFINED ${var} OR NOT EXISTS "${${var}}")
        message(FATAL_ERROR "check_readme_example: ${var} not set or missing ('${${var}}')")
    endif()
endforeach()

get_filename_component(_name "${EXAMPLE}" NAME)
file(READ "${README}" _readme)
file(READ "${EXAMPLE}" _example)

set(_marker "<!-- example: examples/${_name} -->")
string(FIND "${_readme}" "${_marker}" _pos)
if(_pos LESS 0)
    message(FATAL_ERROR "README: marker '${_marker}' not found")
endif()
string(SUBSTRING "${_readme}" ${_pos} -1 _rest)
string(FIND "${_rest}" "\n```c\n" _open)
if(_open LESS 0)
    message(FATAL_ERROR "README: no ```c block after '${_marker}'")
endif()
math(EXPR _start "${_open} + 6")
string(SUBSTRING "${_rest}" ${_start} -1 _rest)
string(FIND "${_rest}" "\n```" _close)
if(_close LESS 0)
    message(FATAL_ERROR "README: the ```c block after '${_marker}' is not closed")
endif()
math(EXPR _len "${_close} + 1")
string(SUBSTRING "${_rest}" 0 ${_len} _snippet)

if(NOT _snippet STREQUAL _example)
    file(WRITE "${CMAKE_CURRENT_BINARY_DIR}/readme_snippet.c" "${_snippet}")
    message(FATAL_ERROR "README.md code block differs from ${EXAMPLE}; "
        "the README's version is in ${CMAKE_CURRENT_BINARY_DIR}/readme_snippet.c "
        "(diff it, then copy one over the other)")
endif()
message(STATUS "README.md example matches ${EXAMPLE}")
