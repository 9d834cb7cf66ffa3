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
