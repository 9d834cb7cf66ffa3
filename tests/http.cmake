# The http step kind against a real local server. Included from
# tests/CMakeLists.txt.
#
# http_server (helpers/http_server.c, libmicrohttpd) serves scripted
# endpoints on 127.0.0.1; e2e/http_steps.sh starts it, drives the real
# `cairn` binary against it, and kills it on exit.
if(NOT TARGET PkgConfig::MHD)
  pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
endif()
find_package(Threads REQUIRED)

# A fake server of the tests: helpers/NAME.c on the shared skeleton.
function(cairn_fake_server name)
  add_executable(${name} helpers/${name}.c helpers/mhd_server.c)
  target_link_libraries(${name} PRIVATE PkgConfig::MHD PkgConfig::CJSON
                        Threads::Threads)
endfunction()

# An end-to-end script run against the cairn binary and a fake server.
function(cairn_server_test test script server)
  add_test(NAME ${test}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/${script}
            $<TARGET_FILE:cairn> $<TARGET_FILE:${server}>)
  set_tests_properties(${test} PROPERTIES TIMEOUT 120)
endfunction()

cairn_fake_server(http_server)
cairn_server_test(cli.http_steps http_steps.sh http_server)
