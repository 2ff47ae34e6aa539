# ew_unit_test(NAME SOURCES... LIBS ...): a hermetic Catch2 test (label "unit").
# ew_integration_test(NAME SOURCES... LIBS ...): a Catch2 test against the real
# servers that the "servers" ctest fixture starts (label "integration").
set(EW_TEST_STATE_DIR "${CMAKE_BINARY_DIR}/test-servers")
# EW_UNIT_TESTS_ONLY: the sanitizer builds that run only the unit tests
# (the tsan preset) leave the integration and e2e executables out of the
# default build and out of ctest (the targets exist, so settings made on them
# elsewhere still apply).
option(EW_UNIT_TESTS_ONLY "Build only the unit tests" OFF)

function(ew_unit_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ew_catch_main ${T_LIBS})
  catch_discover_tests(${name} TEST_PREFIX "${name}: " EXTRA_ARGS --warn NoTests PROPERTIES LABELS unit)
endfunction()

# The executable of an integration or e2e test; with EW_UNIT_TESTS_ONLY it is
# out of the default build (and its caller registers no test).
function(ew_server_test_executable name sources libs)
  if(EW_UNIT_TESTS_ONLY)
    add_executable(${name} EXCLUDE_FROM_ALL ${sources})
  else()
    add_executable(${name} ${sources})
  endif()
  target_link_libraries(${name} PRIVATE ew_catch_main ew_test_support ${libs})
endfunction()

# SERIAL: the tests stop or restart a shared server, so nothing runs beside them.
# SKIPPABLE: a case that cannot run here (an optional server is not built)
# prints why and exits 77, which ctest reports as skipped and counts.
function(ew_integration_test name)
  cmake_parse_arguments(T "SERIAL;SKIPPABLE" "" "SOURCES;LIBS" ${ARGN})
  ew_server_test_executable(${name} "${T_SOURCES}" "${T_LIBS}")
  if(EW_UNIT_TESTS_ONLY)
    return()
  endif()
  target_compile_definitions(${name} PRIVATE EW_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  set(serial FALSE)
  if(T_SERIAL)
    set(serial TRUE)
  endif()
  set(skip "")
  if(T_SKIPPABLE)
    set(skip SKIP_RETURN_CODE 77)
  endif()
  catch_discover_tests(${name} TEST_PREFIX "${name}: " EXTRA_ARGS --warn NoTests PROPERTIES
    LABELS integration
    FIXTURES_REQUIRED servers
    TIMEOUT 300
    RUN_SERIAL ${serial}
    ${skip}
    ENVIRONMENT "EW_TEST_ENV=${EW_TEST_STATE_DIR}/env")
endfunction()

# ew_e2e_test(NAME SOURCES... LIBS ...): a Catch2 test on the real node that
# the "servers" fixture starts (label "e2e"): real pods from the images
# hack/image/build-images.sh imported. Runs alone: pods share the node's two
# cores with everything else, and other tests' timings must not depend on them.
# SKIPPABLE as for ew_integration_test.
function(ew_e2e_test name)
  cmake_parse_arguments(T "SKIPPABLE" "" "SOURCES;LIBS" ${ARGN})
  ew_server_test_executable(${name} "${T_SOURCES}" "${T_LIBS}")
  if(EW_UNIT_TESTS_ONLY)
    return()
  endif()
  target_compile_definitions(${name} PRIVATE EW_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  set(skip "")
  if(T_SKIPPABLE)
    set(skip SKIP_RETURN_CODE 77)
  endif()
  catch_discover_tests(${name} TEST_PREFIX "${name}: " EXTRA_ARGS --warn NoTests PROPERTIES
    LABELS e2e
    FIXTURES_REQUIRED servers
    TIMEOUT 900
    RUN_SERIAL TRUE
    ${skip}
    ENVIRONMENT "EW_TEST_ENV=${EW_TEST_STATE_DIR}/env")
endfunction()
