# The http step kind against a real local server. Included from
# tests/CMakeLists.txt.
#
# http_server (helpers/http_server.c, libmicrohttpd) serves scripted
# endpoints on 127.0.0.1; e2e/http_steps.sh starts it, drives the real
# `cairn` binary against it, and kills it on exit.
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
find_package(Threads REQUIRED)

add_executable(http_server helpers/http_server.c)
target_link_libraries(http_server PRIVATE PkgConfig::MHD PkgConfig::CJSON
                      Threads::Threads)

add_test(NAME cli.http_steps
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/http_steps.sh
          $<TARGET_FILE:cairn> $<TARGET_FILE:http_server>)
set_tests_properties(cli.http_steps PROPERTIES TIMEOUT 120)
