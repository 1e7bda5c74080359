# Boots a sample firmware self-test image on QEMU and checks its console.
#
#   cmake -DQEMU=qemu-system-arm -DELF=sample_v1_selftest.elf
#         -DEXPECT_VERSION=1.0.0 [-DTIMEOUT=30] -P check_boot.cmake
#
# Passes when the guest prints the banner "dfota-sample v<version>" and
# "selftest: PASS" on UART0 and exits with status 0 through semihosting.
foreach(var QEMU ELF EXPECT_VERSION)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_boot.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT DEFINED TIMEOUT)
  set(TIMEOUT 30)
endif()

execute_process(
  COMMAND ${QEMU} -machine mps2-an386 -cpu cortex-m4 -nographic -monitor none
          -serial stdio -semihosting-config enable=on,target=native -kernel ${ELF}
  INPUT_FILE /dev/null
  TIMEOUT ${TIMEOUT}
  RESULT_VARIABLE status
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)

message("${out}")
if(err)
  message("stderr: ${err}")
endif()

string(REPLACE "." "\\." version_re "${EXPECT_VERSION}")
if(NOT status STREQUAL "0")
  message(FATAL_ERROR "firmware did not exit cleanly: ${status}")
endif()
if(NOT out MATCHES "dfota-sample v${version_re} \\(mps2-an386, Cortex-M4\\)")
  message(FATAL_ERROR "banner for version ${EXPECT_VERSION} not found")
endif()
if(NOT out MATCHES "selftest: PASS")
  message(FATAL_ERROR "self test did not pass")
endif()
message(STATUS "sample firmware ${EXPECT_VERSION} booted and passed its self test")
