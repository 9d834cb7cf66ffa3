# Crash and multi-process tests of the journal. Included from
# tests/CMakeLists.txt after cairn_c_tests is defined.
#
# journal_writer (helpers/journal_writer.c) is a separate program because
# the tests kill it with SIGKILL and run two at once; the tests include the
# same source with JW_TEST_SIDE for the checking half, and find the
# program through JOURNAL_WRITER.
add_executable(journal_writer helpers/journal_writer.c)
target_link_libraries(journal_writer PRIVATE cairn_lib)

cairn_c_tests(test_durability test_durability.c)
cairn_c_tests(test_concurrency test_concurrency.c)

foreach(t test_durability test_concurrency)
  target_compile_definitions(${t} PRIVATE
    JOURNAL_WRITER="$<TARGET_FILE:journal_writer>")
  add_dependencies(${t} journal_writer)
endforeach()

# Crash torture (torture/torture.sh): workers SIGKILLed at random under a
# mixed workload, every run checked against its effects log. CI runs the
# short mode (50 kills); the full mode (--kills 1000) is in docs/bench.md.
add_test(NAME torture.fifty_worker_kills_lose_nothing_and_repeat_nothing
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/torture/torture.sh
          $<TARGET_FILE:cairn> --kills 50 --workers 3)
add_test(NAME torture.the_checks_catch_a_repeated_and_a_lost_step
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/torture/self_check.sh
          $<TARGET_FILE:cairn>)
set_tests_properties(
  torture.fifty_worker_kills_lose_nothing_and_repeat_nothing
  torture.the_checks_catch_a_repeated_and_a_lost_step
  PROPERTIES TIMEOUT 600)
