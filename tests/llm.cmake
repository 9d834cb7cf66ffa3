# The llm step kind: its pure parts as C tests (test_llm.c), and calls
# against a local model server. Included from tests/CMakeLists.txt (after
# http.cmake, which finds libmicrohttpd and defines cairn_fake_server and
# cairn_server_test).
#
# llm_server (helpers/llm_server.c, libmicrohttpd) speaks the OpenAI and
# Anthropic wire formats on 127.0.0.1 with scripted behaviours;
# e2e/llm_steps.sh starts it, drives the real `cairn` binary against it,
# and stops it on exit.
cairn_c_tests(test_llm test_llm.c helpers/defs.c)
cairn_fake_server(llm_server)
cairn_server_test(cli.llm_steps llm_steps.sh llm_server)

# The issue's stories against the same server: a prompt chain whose weak
# step is rerun with a better prompt, a replay on another provider's
# model, and a backtest over 10 runs with one regression.
cairn_server_test(cli.llm_stories llm_stories.sh llm_server)

# Prompt artifacts: a definition's prompts and prompts added by hand,
# replays that name an artifact id and content hash (CLI and API), the
# 404 and 409 answers, and a replay on a new model by id and provider.
cairn_server_test(cli.prompt_artifacts_replay_the_exact_text prompts.sh
                  llm_server)
