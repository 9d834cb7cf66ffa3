# The llm step kind: its pure parts as C tests (test_llm.c), and calls
# against a local model server. Included from tests/CMakeLists.txt (after
# http.cmake, which finds libmicrohttpd).
#
# llm_server (helpers/llm_server.c, libmicrohttpd) speaks the OpenAI and
# Anthropic wire formats on 127.0.0.1 with scripted behaviours;
# e2e/llm_steps.sh starts it, drives the real `cairn` binary against it,
# and stops it on exit.
cairn_c_tests(test_llm test_llm.c)

add_executable(llm_server helpers/llm_server.c)
target_link_libraries(llm_server PRIVATE PkgConfig::MHD PkgConfig::CJSON
                      Threads::Threads)

add_test(NAME cli.llm_steps
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/llm_steps.sh
          $<TARGET_FILE:cairn> $<TARGET_FILE:llm_server>)
set_tests_properties(cli.llm_steps PROPERTIES TIMEOUT 120)

# The issue's stories against the same server: a prompt chain whose weak
# step is rerun with a better prompt, a replay on another provider's
# model, and a backtest over 10 runs with one regression.
add_test(NAME cli.llm_stories
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/llm_stories.sh
          $<TARGET_FILE:cairn> $<TARGET_FILE:llm_server>)
set_tests_properties(cli.llm_stories PROPERTIES TIMEOUT 120)
