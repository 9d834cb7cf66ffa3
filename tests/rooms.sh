#!/usr/bin/env bash
# rooms.sh SOURCE_DIR — the architecture of docs/architecture.md, checked.
#
# Every file of libcairn and the tool belongs to one room. An #include
# "..." from one room into another must follow an arrow of the table
# below (the graph it draws has no cycle), and each outside library is
# called from its one room only. A new file is checked as soon as it
# exists; a new room needs a line here and a box in the doc.
set -euo pipefail
src=${1:?usage: rooms.sh SOURCE_DIR}
cd "$src"

# room of a path relative to the source tree
room_of() {
  case $1 in
    include/cairn/*)  echo api ;;
    cli/*)            echo cli ;;
    server/*)         echo server ;;
    present/*)        echo present ;;
    engine/lang/*)    echo lang ;;
    engine/kinds/*)   echo kinds ;;
    engine/*)         echo core ;;
    journal/lmdb/*)   echo lmdb ;;
    journal/pg/*)     echo pg ;;
    journal/*)        echo journal ;;
    *)                echo other ;;
  esac
}

# from -> to arrows allowed between different rooms
allowed=" cli>api cli>present cli>server server>api server>present present>api"
allowed+=" core>api core>lang core>kinds kinds>lang"
allowed+=" kinds>api lang>api journal>api lmdb>journal lmdb>api"
allowed+=" pg>journal pg>api "

# outside libraries and the one room that may include each
declare -A lib_room=([lmdb.h]=lmdb [libpq-fe.h]=pg [curl/curl.h]=kinds
                     [jq.h]=lang [msgpack.h]=journal [microhttpd.h]=server)

fail=0
dirs=()
for d in include cli server present engine journal; do
  [ -d "$d" ] && dirs+=("$d")
done
files=$(find "${dirs[@]}" -name '*.[ch]' | sort)
n_files=0
n_edges=0
for f in $files; do
  n_files=$((n_files + 1))
  from=$(room_of "$f")
  dir=$(dirname "$f")
  while IFS= read -r inc; do
    # resolve like the compiler: the including file's folder first, then
    # the include paths (engine/, journal/, include/, present/)
    target=""
    for base in "$dir" engine journal include present server; do
      if [ -f "$base/$inc" ]; then
        target=$(realpath --relative-to=. "$base/$inc")
        break
      fi
    done
    if [ -z "$target" ]; then
      echo "rooms: $f includes \"$inc\", which is not in the tree"
      fail=1
      continue
    fi
    to=$(room_of "$target")
    n_edges=$((n_edges + 1))
    if [ "$from" != "$to" ] && [[ $allowed != *" $from>$to "* ]]; then
      echo "rooms: $f ($from) includes $target ($to): no arrow $from -> $to" \
           "in docs/architecture.md"
      fail=1
    fi
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
  for lib in "${!lib_room[@]}"; do
    if grep -q "^#include <$lib>" "$f" && [ "$from" != "${lib_room[$lib]}" ]; then
      echo "rooms: $f ($from) includes <$lib>, which only the" \
           "${lib_room[$lib]} room may call"
      fail=1
    fi
  done
done

# The core reaches kinds through kinds/kind.h alone.
for f in $(find engine -maxdepth 1 -name '*.[ch]' | sort); do
  if grep -n '^#include "kinds/' "$f" | grep -v 'kinds/kind.h' >/dev/null; then
    echo "rooms: $f includes a step kind's own header; use kinds/kind.h"
    fail=1
  fi
done

if [ "$fail" -ne 0 ]; then
  echo "rooms: FAILED"
  exit 1
fi
echo "rooms: $n_files files, $n_edges includes, every arrow as drawn"
