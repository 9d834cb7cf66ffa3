#!/usr/bin/env bash
# install.sh — `cmake --install` puts the command, its man page and the
# guides where a packager expects them (GNUInstallDirs), and the installed
# binary works on its own: it runs a real workflow from another folder.
#   usage: install.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
BUILD=$(realpath "$1")
SRC=$(realpath "$2")
. "$(dirname "$0")/lib.sh"
prefix=$tmp/prefix

expect_exit 0 "cmake --install into a temporary prefix works" \
  cmake --install "$BUILD" --prefix "$prefix"
check "the command is in bin/" test -x "$prefix/bin/cairn"
check "the man page is in share/man/man1/" test -s "$prefix/share/man/man1/cairn.1"
check "the guides are in share/doc/cairn/" \
  test -s "$prefix/share/doc/cairn/definitions.md"
check "with the README beside them" test -s "$prefix/share/doc/cairn/README.md"
check "the man page names the commands" grep -q '^\\fBworker\\fR' \
  "$prefix/share/man/man1/cairn.1"

expect_exit 0 "the installed cairn prints its version" "$prefix/bin/cairn" --version
check "as 'cairn VERSION'" grep -q '^cairn [0-9]' "$tmp/out"
expect_exit 0 "and its help" "$prefix/bin/cairn" help
check "which lists the commands" grep -q 'journal verify' "$tmp/out"

# A real run with the installed binary, from an unrelated folder.
mkdir -p "$tmp/elsewhere"
cp "$SRC/examples/workflows/text_report.json" "$tmp/elsewhere/wf.json"
printf 'one two two\n' >"$tmp/elsewhere/in.txt"
(cd "$tmp/elsewhere" &&
 "$prefix/bin/cairn" --format json run wf.json \
   --input "{\"file\": \"$tmp/elsewhere/in.txt\"}" >"$tmp/out" 2>"$tmp/err")
eq "the installed cairn runs the example workflow" "$?" 0
eq "and records its output" "$(jq .output.stats.words "$tmp/out")" 3
check "in the default journal of that folder" test -d "$tmp/elsewhere/.cairn"
expect_exit 0 "which verifies clean" "$prefix/bin/cairn" \
  --home "$tmp/elsewhere/.cairn" journal verify
finish
