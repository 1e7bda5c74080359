# cmake -DSIZE=arm-none-eabi-size -DOBJ=<object> -DMAX=<bytes> [-DWHAT=<text>]
#   -P SizeBudget.cmake: fails when the text of OBJ exceeds MAX bytes (a code
#   budget the docs promise, e.g. libdfota A/B + DZ1 within 8 KiB).
execute_process(COMMAND ${SIZE} --format=berkeley ${OBJ}
                OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${SIZE} ${OBJ} failed (${rc})")
endif()
string(REGEX MATCH "\n[ \t]*([0-9]+)" m "${out}")
set(text "${CMAKE_MATCH_1}")
if(text STREQUAL "")
  message(FATAL_ERROR "no text size in: ${out}")
endif()
if(text GREATER MAX)
  message(FATAL_ERROR "${WHAT}: text ${text} bytes, over the budget of ${MAX}")
endif()
message(STATUS "${WHAT}: text ${text} bytes, budget ${MAX} (${OBJ})")
