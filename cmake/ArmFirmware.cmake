# ArmFirmware.cmake: Cortex-M builds driven from a host-compiled project.
#
# The main dfota project is compiled with the host compiler, so nothing here
# switches toolchains: every ARM object, ELF and raw image is produced by
# custom commands that call arm-none-eabi-gcc, -objcopy and -size directly.
#
# Functions (all paths may be relative to CMAKE_CURRENT_SOURCE_DIR):
#
#   dfota_arm_image(<name> SOURCES <src>... LINKER_SCRIPT <file>
#                   [INCLUDES <dir>...] [DEFINES <def>...]
#                   [OPTIONS <flag>...] [LINK_OPTIONS <flag>...]
#                   [DEPENDS <file-or-target>...])
#       -> ${CMAKE_CURRENT_BINARY_DIR}/<name>.elf, <name>.bin (objcopy -O
#          binary), <name>.map; target <name> (in ALL) with the target
#          properties DFOTA_ELF and DFOTA_BIN holding the two paths.
#
#   dfota_qemu_test(<name> SOURCES <src>...
#                   [INCLUDES <dir>...] [DEFINES <def>...]
#                   [OPTIONS <flag>...] [LINK_OPTIONS <flag>...]
#                   [INCBIN <symbol>=<file>...] [DEPENDS <file-or-target>...]
#                   [TIMEOUT <seconds>])
#       -> ${CMAKE_CURRENT_BINARY_DIR}/<name>.elf built against the harness
#          start-up code and linker script in firmware/qemu/ (newlib nano +
#          rdimon semihosting), target <name> (in ALL) and CTest test <name>
#          that runs the ELF on qemu-system-arm -machine mps2-an386 under
#          `timeout`; the test passes when the guest exits with status 0.
#          INCBIN <symbol>=<file> makes the file's bytes visible to C as
#              extern const unsigned char symbol[];
#              extern const unsigned char symbol_end[];
#          If <file> is produced by a target of another directory, name that
#          target in DEPENDS as well so it is built first.
#
#   dfota_arm_size(<name> SOURCES <src>...
#                  [INCLUDES <dir>...] [DEFINES <def>...] [OPTIONS <flag>...]
#                  [DEPENDS <file-or-target>...])
#       Compiles the sources for Cortex-M4 (-Os, no link). Target <name>_objs
#       (in ALL) builds the objects; target <name> prints arm-none-eabi-size
#       (berkeley: text data bss dec hex filename) per object and a total.
#
# Compile flags for every ARM object: ${DFOTA_ARM_C_FLAGS}, plus OPTIONS.
# Header dependencies are tracked through gcc depfiles, so edits rebuild.

# Once per directory: the settings below are ordinary variables, so every
# directory that calls these functions must include this file (the functions
# themselves are global). Re-including from another directory is cheap.
include_guard(DIRECTORY)

# Depfile paths are interpreted relative to the current binary directory
# (we only write absolute paths anyway). Recorded into the functions below.
if(POLICY CMP0116)
  cmake_policy(SET CMP0116 NEW)
endif()

set(DFOTA_ARM_MODULE_FILE "${CMAKE_CURRENT_LIST_FILE}")
get_filename_component(DFOTA_ARM_QEMU_DIR "${CMAKE_CURRENT_LIST_DIR}/../firmware/qemu" ABSOLUTE)

find_program(DFOTA_ARM_GCC arm-none-eabi-gcc)
find_program(DFOTA_ARM_OBJCOPY arm-none-eabi-objcopy)
find_program(DFOTA_ARM_SIZE arm-none-eabi-size)
if(NOT DFOTA_ARM_GCC OR NOT DFOTA_ARM_OBJCOPY OR NOT DFOTA_ARM_SIZE)
  message(FATAL_ERROR "arm-none-eabi-gcc/objcopy/size not found: install gcc-arm-none-eabi "
                      "and libnewlib-arm-none-eabi, or configure with -DDFOTA_ARM=OFF")
endif()
find_program(DFOTA_QEMU_SYSTEM_ARM qemu-system-arm)
find_program(DFOTA_TIMEOUT timeout)

set(DFOTA_ARM_CPU_FLAGS -mcpu=cortex-m4 -mthumb)
set(DFOTA_ARM_C_FLAGS ${DFOTA_ARM_CPU_FLAGS} -Os -g -ffunction-sections -fdata-sections
    -Wall -Wextra -Werror -std=c11)
set(DFOTA_QEMU_MACHINE mps2-an386)
set(DFOTA_QEMU_DEFAULT_TIMEOUT 60 CACHE STRING "Seconds before a QEMU test run is killed")

# Command prefix that runs an ELF on the emulated board (semihosting on,
# no UART, no monitor). Exported so other directories can build their own
# test commands: ${DFOTA_QEMU_COMMAND} <file.elf>
set(DFOTA_QEMU_COMMAND ${DFOTA_QEMU_SYSTEM_ARM} -machine ${DFOTA_QEMU_MACHINE} -cpu cortex-m4
    -nographic -monitor none -serial null
    -semihosting-config enable=on,target=native -kernel)

if(NOT DFOTA_QEMU_SYSTEM_ARM OR NOT DFOTA_TIMEOUT)
  message(WARNING "qemu-system-arm or timeout not found: QEMU tests will be built but not registered")
endif()

# Object file name for <src>: its path relative to the nearest known root,
# flattened, so that the size report shows where each object comes from.
function(_dfota_arm_object_name out src)
  set(rel "")
  foreach(root IN ITEMS "${CMAKE_CURRENT_SOURCE_DIR}" "${CMAKE_CURRENT_BINARY_DIR}"
                        "${CMAKE_SOURCE_DIR}" "${CMAKE_BINARY_DIR}")
    cmake_path(IS_PREFIX root "${src}" NORMALIZE inside)
    if(inside)
      file(RELATIVE_PATH rel "${root}" "${src}")
      break()
    endif()
  endforeach()
  if(rel STREQUAL "")
    get_filename_component(base "${src}" NAME)
    string(MD5 hash "${src}")
    string(SUBSTRING "${hash}" 0 8 hash)
    set(rel "${hash}_${base}")
  endif()
  string(REPLACE "/" "_" rel "${rel}")
  set(${out} "${rel}.o" PARENT_SCOPE)
endfunction()

# Compile SOURCES for Cortex-M4. Sets <out_objs> to the object paths.
function(_dfota_arm_compile out_objs name objdir)
  cmake_parse_arguments(PARSE_ARGV 3 A "" "" "SOURCES;INCLUDES;DEFINES;OPTIONS;DEPENDS")
  if(NOT A_SOURCES)
    message(FATAL_ERROR "${name}: no SOURCES given")
  endif()
  set(flags ${DFOTA_ARM_C_FLAGS} ${A_OPTIONS})
  foreach(inc IN LISTS A_INCLUDES)
    get_filename_component(inc "${inc}" ABSOLUTE)
    list(APPEND flags "-I${inc}")
  endforeach()
  foreach(def IN LISTS A_DEFINES)
    list(APPEND flags "-D${def}")
  endforeach()
  file(MAKE_DIRECTORY "${objdir}")
  set(objs "")
  foreach(src IN LISTS A_SOURCES)
    get_filename_component(src "${src}" ABSOLUTE)
    _dfota_arm_object_name(objname "${src}")
    set(obj "${objdir}/${objname}")
    if(obj IN_LIST objs)
      string(MD5 hash "${src}")
      string(SUBSTRING "${hash}" 0 8 hash)
      set(obj "${objdir}/${hash}_${objname}")
    endif()
    list(APPEND objs "${obj}")
    add_custom_command(
      OUTPUT "${obj}"
      COMMAND ${DFOTA_ARM_GCC} ${flags} -MMD -MP -MF "${obj}.d" -c "${src}" -o "${obj}"
      DEPENDS "${src}" ${A_DEPENDS} "${DFOTA_ARM_MODULE_FILE}" "${CMAKE_CURRENT_LIST_FILE}"
      DEPFILE "${obj}.d"
      COMMENT "ARM CC ${name}: ${objname}"
      VERBATIM)
  endforeach()
  set(${out_objs} "${objs}" PARENT_SCOPE)
endfunction()

function(dfota_arm_image name)
  cmake_parse_arguments(PARSE_ARGV 1 A "" "LINKER_SCRIPT"
                        "SOURCES;INCLUDES;DEFINES;OPTIONS;LINK_OPTIONS;DEPENDS")
  if(NOT A_LINKER_SCRIPT)
    message(FATAL_ERROR "dfota_arm_image(${name}): LINKER_SCRIPT is required")
  endif()
  get_filename_component(ld "${A_LINKER_SCRIPT}" ABSOLUTE)
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${name}")
  _dfota_arm_compile(objs ${name} "${out}.arm"
    SOURCES ${A_SOURCES} INCLUDES ${A_INCLUDES} DEFINES ${A_DEFINES}
    OPTIONS ${A_OPTIONS} DEPENDS ${A_DEPENDS})
  add_custom_command(
    OUTPUT "${out}.elf" "${out}.bin" "${out}.map"
    COMMAND ${DFOTA_ARM_GCC} ${DFOTA_ARM_CPU_FLAGS} -Os
            --specs=nano.specs --specs=nosys.specs -nostartfiles
            -T "${ld}" -Wl,--gc-sections -Wl,-Map=${out}.map
            ${A_LINK_OPTIONS} ${objs} -o "${out}.elf"
    COMMAND ${DFOTA_ARM_OBJCOPY} -O binary "${out}.elf" "${out}.bin"
    DEPENDS ${objs} "${ld}" ${A_DEPENDS}
    COMMENT "ARM LD ${name}.elf / ${name}.bin"
    VERBATIM)
  add_custom_target(${name} ALL DEPENDS "${out}.elf" "${out}.bin")
  set_target_properties(${name} PROPERTIES DFOTA_ELF "${out}.elf" DFOTA_BIN "${out}.bin")
endfunction()

# Writes an assembly file that embeds <file> under <symbol>/<symbol>_end.
function(_dfota_incbin_source out name spec)
  if(NOT spec MATCHES "^([A-Za-z_][A-Za-z0-9_]*)=(.+)$")
    message(FATAL_ERROR "${name}: INCBIN wants <symbol>=<file>, got '${spec}'")
  endif()
  set(sym "${CMAKE_MATCH_1}")
  set(file "${CMAKE_MATCH_2}")
  if(NOT IS_ABSOLUTE "${file}")
    if(EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/${file}")
      set(file "${CMAKE_CURRENT_SOURCE_DIR}/${file}")
    else()
      set(file "${CMAKE_CURRENT_BINARY_DIR}/${file}")
    endif()
  endif()
  set(asm "${CMAKE_CURRENT_BINARY_DIR}/${name}.arm/incbin_${sym}.S")
  file(CONFIGURE OUTPUT "${asm}" @ONLY CONTENT
"/* Generated by ArmFirmware.cmake for ${name}: embeds ${file} */
    .section .rodata.incbin.@sym@, \"a\", %progbits
    .balign 8
    .global @sym@
    .type @sym@, %object
@sym@:
    .incbin \"@file@\"
    .global @sym@_end
    .type @sym@_end, %object
@sym@_end:
    .size @sym@, @sym@_end - @sym@
")
  set(${out} "${asm};${file}" PARENT_SCOPE)
endfunction()

function(dfota_qemu_test name)
  cmake_parse_arguments(PARSE_ARGV 1 A "" "TIMEOUT"
                        "SOURCES;INCLUDES;DEFINES;OPTIONS;LINK_OPTIONS;INCBIN;DEPENDS")
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT ${DFOTA_QEMU_DEFAULT_TIMEOUT})
  endif()
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${name}")
  set(ld "${DFOTA_ARM_QEMU_DIR}/qemu_test.ld")

  # One compile per INCBIN so that each depends on exactly its file.
  set(incbin_objs "")
  foreach(spec IN LISTS A_INCBIN)
    _dfota_incbin_source(pair ${name} "${spec}")
    list(GET pair 0 asm)
    list(GET pair 1 blob)
    _dfota_arm_compile(obj ${name} "${out}.arm" SOURCES "${asm}" DEPENDS "${blob}" ${A_DEPENDS})
    list(APPEND incbin_objs ${obj})
  endforeach()

  _dfota_arm_compile(objs ${name} "${out}.arm"
    SOURCES "${DFOTA_ARM_QEMU_DIR}/qemu_startup.c" ${A_SOURCES}
    INCLUDES ${A_INCLUDES} DEFINES ${A_DEFINES} OPTIONS ${A_OPTIONS} DEPENDS ${A_DEPENDS})
  add_custom_command(
    OUTPUT "${out}.elf"
    COMMAND ${DFOTA_ARM_GCC} ${DFOTA_ARM_CPU_FLAGS} -Os
            --specs=nano.specs --specs=rdimon.specs -nostartfiles
            -T "${ld}" -Wl,--gc-sections -Wl,-Map=${out}.map
            ${A_LINK_OPTIONS} ${objs} ${incbin_objs} -o "${out}.elf"
    DEPENDS ${objs} ${incbin_objs} "${ld}" ${A_DEPENDS}
    BYPRODUCTS "${out}.map"
    COMMENT "ARM LD ${name}.elf (QEMU semihosting test)"
    VERBATIM)
  add_custom_target(${name} ALL DEPENDS "${out}.elf")
  set_target_properties(${name} PROPERTIES DFOTA_ELF "${out}.elf")

  if(DFOTA_QEMU_SYSTEM_ARM AND DFOTA_TIMEOUT)
    add_test(NAME ${name}
      COMMAND ${DFOTA_TIMEOUT} --kill-after=5 ${A_TIMEOUT} ${DFOTA_QEMU_COMMAND} "${out}.elf")
    math(EXPR ctest_timeout "${A_TIMEOUT} + 15")
    set_tests_properties(${name} PROPERTIES TIMEOUT ${ctest_timeout} LABELS "qemu")
  endif()
endfunction()

function(dfota_arm_size name)
  cmake_parse_arguments(PARSE_ARGV 1 A "" "" "SOURCES;INCLUDES;DEFINES;OPTIONS;DEPENDS")
  set(objdir "${CMAKE_CURRENT_BINARY_DIR}/${name}.arm")
  _dfota_arm_compile(objs ${name} "${objdir}"
    SOURCES ${A_SOURCES} INCLUDES ${A_INCLUDES} DEFINES ${A_DEFINES}
    OPTIONS ${A_OPTIONS} DEPENDS ${A_DEPENDS})
  set(names "")
  foreach(obj IN LISTS objs)
    get_filename_component(n "${obj}" NAME)
    list(APPEND names "${n}")
  endforeach()
  add_custom_target(${name}_objs ALL DEPENDS ${objs})
  add_custom_target(${name}
    COMMAND ${DFOTA_ARM_SIZE} --format=berkeley --totals ${names}
    DEPENDS ${objs}
    WORKING_DIRECTORY "${objdir}"
    COMMENT "Cortex-M4 -Os size of ${name}"
    VERBATIM)
  set_target_properties(${name} PROPERTIES DFOTA_OBJECTS "${objs}")
endfunction()

#   dfota_arm_size_linked(<name> SOURCES <src>... [INCLUDES ...] [DEFINES ...]
#       [OPTIONS ...] ROOTS <symbol>...)
#   dfota_arm_size_linked(<name> OBJECTS_OF <other> ROOTS <symbol>...)
#       compiles SOURCES (or takes the objects another dfota_arm_size_linked
#       target compiled: the same build with other ROOTS), links them into
#       one relocatable object keeping only what ROOTS reach (ld -r
#       --gc-sections: what a device calling those functions carries, C
#       library calls left undefined) as ${CMAKE_CURRENT_BINARY_DIR}/
#       size_linked/<name>.o. Target <name>_objs builds it; its properties
#       DFOTA_LINKED name that object, DFOTA_COMPILED the inputs.
function(dfota_arm_size_linked name)
  cmake_parse_arguments(PARSE_ARGV 1 A "" "OBJECTS_OF" "SOURCES;INCLUDES;DEFINES;OPTIONS;ROOTS")
  set(objdir "${CMAKE_CURRENT_BINARY_DIR}/${name}.arm")
  if(A_OBJECTS_OF)
    get_target_property(objs ${A_OBJECTS_OF}_objs DFOTA_COMPILED)
  else()
    _dfota_arm_compile(objs ${name} "${objdir}"
      SOURCES ${A_SOURCES} INCLUDES ${A_INCLUDES} DEFINES ${A_DEFINES} OPTIONS ${A_OPTIONS})
  endif()
  set(roots "")
  foreach(r IN LISTS A_ROOTS)
    list(APPEND roots "-Wl,-u,${r}")
  endforeach()
  # all linked objects in one directory: one arm-none-eabi-size call lists them
  file(MAKE_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}/size_linked")
  set(out "${CMAKE_CURRENT_BINARY_DIR}/size_linked/${name}.o")
  add_custom_command(OUTPUT "${out}"
    COMMAND ${DFOTA_ARM_GCC} ${DFOTA_ARM_CPU_FLAGS} -nostdlib -r -Wl,--gc-sections ${roots}
            ${objs} -o "${out}"
    DEPENDS ${objs}
    COMMENT "ARM LD -r --gc-sections ${name}"
    VERBATIM)
  add_custom_target(${name}_objs ALL DEPENDS "${out}")
  if(A_OBJECTS_OF)
    # the other target compiles the objects; never both at once (make -j)
    add_dependencies(${name}_objs ${A_OBJECTS_OF}_objs)
  endif()
  set_target_properties(${name}_objs PROPERTIES DFOTA_LINKED "${out}" DFOTA_COMPILED "${objs}")
endfunction()
