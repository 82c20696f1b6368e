# Included from tests/CMakeLists.txt on every build (any compiler): each fuzz
# target linked with replay.c instead of libFuzzer, and a ctest (label fuzz)
# that runs it over the committed seed corpus tests/fuzz/corpus/<target>/.
# The libFuzzer builds of the same targets are in tests/fuzz/CMakeLists.txt
# (-DFUZZ=ON, clang).
set(TDNS_FUZZ_TARGETS auth local upstream rrset zoneload encode msg doh diff)
foreach(target ${TDNS_FUZZ_TARGETS})
  add_executable(replay_${target} ${CMAKE_CURRENT_LIST_DIR}/fuzz_${target}.c
                 ${CMAKE_CURRENT_LIST_DIR}/fuzz_util.c
                 ${CMAKE_CURRENT_LIST_DIR}/replay.c
                 ${CMAKE_CURRENT_LIST_DIR}/../support/oracle.c)
  target_include_directories(replay_${target} PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../support)
  target_link_libraries(replay_${target} PRIVATE tierdns)
  set_target_properties(replay_${target} PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME fuzz/replay_${target}
           COMMAND replay_${target} ${CMAKE_CURRENT_LIST_DIR}/corpus/${target})
  set_tests_properties(fuzz/replay_${target} PROPERTIES LABELS fuzz TIMEOUT 300)
endforeach()
