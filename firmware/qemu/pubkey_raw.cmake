# pubkey_raw.cmake: the raw 32-byte Ed25519 public key out of a PEM
# SubjectPublicKeyInfo file, as `dfota keygen` writes KEY.pub.
#
#   cmake -DPEM=<KEY.pub> -DOUT=<key.raw> -DOBJCOPY=<objcopy> -P pubkey_raw.cmake
#
# CMake strings cannot hold a NUL byte, so the script cannot write binary
# itself: it decodes the base64 body, checks the DER (44 bytes, the fixed
# Ed25519 SPKI prefix), writes the last 32 bytes as an Intel HEX record and
# lets objcopy (-I ihex -O binary, already needed for the ARM builds) turn
# that into the raw file. No other tool is needed.
cmake_minimum_required(VERSION 3.20)

foreach(v PEM OUT OBJCOPY)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "pubkey_raw.cmake: -D${v}=... is required")
  endif()
endforeach()

file(READ "${PEM}" pem)
if(NOT pem MATCHES "-----BEGIN PUBLIC KEY-----(.*)-----END PUBLIC KEY-----")
  message(FATAL_ERROR "${PEM}: no PEM PUBLIC KEY block")
endif()
string(REGEX REPLACE "[ \t\r\n]" "" b64 "${CMAKE_MATCH_1}")
string(REGEX REPLACE "=+$" "" b64 "${b64}")
if(NOT b64 MATCHES "^[A-Za-z0-9+/]+$")
  message(FATAL_ERROR "${PEM}: bad base64 in the PEM body")
endif()

# base64 -> list of byte values
set(alphabet "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
string(LENGTH "${b64}" n)
set(bytes "")
set(acc 0)
set(bits 0)
math(EXPR last "${n} - 1")
foreach(i RANGE 0 ${last})
  string(SUBSTRING "${b64}" ${i} 1 ch)
  string(FIND "${alphabet}" "${ch}" val)
  math(EXPR acc "((${acc} << 6) | ${val}) & 0xFFFFFF")
  math(EXPR bits "${bits} + 6")
  if(bits GREATER_EQUAL 8)
    math(EXPR bits "${bits} - 8")
    math(EXPR byte "(${acc} >> ${bits}) & 0xFF")
    list(APPEND bytes ${byte})
  endif()
endforeach()

# DER SubjectPublicKeyInfo of an Ed25519 key (RFC 8410): 12 fixed bytes
# 30 2a 30 05 06 03 2b 65 70 03 21 00, then the 32-byte key.
list(LENGTH bytes len)
list(SUBLIST bytes 0 12 prefix)
if(NOT len EQUAL 44 OR NOT prefix STREQUAL "48;42;48;5;6;3;43;101;112;3;33;0")
  message(FATAL_ERROR "${PEM}: not an Ed25519 SubjectPublicKeyInfo (${len} DER bytes)")
endif()
list(SUBLIST bytes 12 32 key)

# One Intel HEX data record (32 bytes at address 0) and the end record.
set(sum 32)                       # length byte; address 0000 and type 00 add 0
set(hex "")
foreach(b IN LISTS key)
  math(EXPR sum "${sum} + ${b}")
  math(EXPR h "${b}" OUTPUT_FORMAT HEXADECIMAL)
  string(SUBSTRING "${h}" 2 -1 h)
  string(LENGTH "${h}" hl)
  if(hl EQUAL 1)
    set(h "0${h}")
  endif()
  string(APPEND hex "${h}")
endforeach()
math(EXPR check "(256 - (${sum} & 0xFF)) & 0xFF" OUTPUT_FORMAT HEXADECIMAL)
string(SUBSTRING "${check}" 2 -1 check)
string(LENGTH "${check}" cl)
if(cl EQUAL 1)
  set(check "0${check}")
endif()
string(TOUPPER ":20000000${hex}${check}\n:00000001FF\n" ihex)
file(WRITE "${OUT}.ihex" "${ihex}")

execute_process(COMMAND "${OBJCOPY}" -I ihex -O binary "${OUT}.ihex" "${OUT}"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${OBJCOPY} -I ihex -O binary failed (${rc})")
endif()
file(SIZE "${OUT}" size)
if(NOT size EQUAL 32)
  message(FATAL_ERROR "${OUT}: ${size} bytes, expected 32")
endif()
file(REMOVE "${OUT}.ihex")
