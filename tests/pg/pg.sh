#!/usr/bin/env bash
# pg.sh — a private, throwaway PostgreSQL server for tests, on 127.0.0.1
# only (a free port; no other network). Run, not sourced:
#   pg.sh start STATE      initdb + start; prints the server's url
#   pg.sh createdb STATE NAME   (re)creates database NAME, prints its url
#   pg.sh url STATE        prints the url of database postgres
#   pg.sh crash STATE      pg_ctl stop -m immediate: dies like a power cut,
#                          the data stays (for durability tests)
#   pg.sh restart STATE    starts it again, same port and data, once it
#                          accepts connections (after crash recovery)
#   pg.sh stop STATE       stops it and removes everything; idempotent
# STATE is a folder of small files owned by the caller, anywhere:
# url (postgresql://cairn@127.0.0.1:PORT/postgres), port, server (the
# folder that holds the server: /tmp/cairn-pg.XXXXXX with data/, sock/
# and log, owned by postgres when run as root), log (a link to it) and
# watchdog.pid. start first stops what an earlier start left in STATE.
# User cairn, trust authentication, fsync on; NAME a plain identifier
# (it goes into the url unescaped).
# As root every PostgreSQL binary runs as user postgres (initdb refuses
# root); otherwise as the caller. A detached watchdog stops the server
# (-m immediate) and removes its folder once the process PG_OWNER_PID
# (default: pg.sh's parent, e.g. ctest) is gone, or after PG_MAX_SECONDS
# (default 5400), so a crashed test run never leaves a server behind.
set -euo pipefail
self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "$0")
bin=$(printf "%s\n" /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
[ -x "$bin/pg_ctl" ] || { echo "pg.sh: no PostgreSQL in $bin" >&2; exit 1; }

pgrun() { # a PostgreSQL binary, as postgres when we are root
  local b=$bin/$1
  shift
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$b" "$@")
  else
    "$b" "$@"
  fi
}

pgstart() { # SERVER PORT: start and wait until it accepts connections
  local opts="-c listen_addresses=127.0.0.1 -p $2"
  opts+=" -c unix_socket_directories=$1/sock -c fsync=on"
  opts+=" -c synchronous_commit=on -c max_connections=300"
  opts+=" -c shared_buffers=128MB"
  pgrun pg_ctl -D "$1/data" -l "$1/log" -w -t 60 -o "$opts" start >/dev/null
}

port_taken() { (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

watchdog_pid() { # the live watchdog of STATE, if any
  local p
  p=$(cat "$1/watchdog.pid" 2>/dev/null) || return 1
  grep -qa _watch "/proc/$p/cmdline" 2>/dev/null && echo "$p"
}

cmd=${1-}
state=${2-}
[ -n "$state" ] || { echo "usage: pg.sh start|stop|crash|restart|createdb|url STATE [NAME]" >&2; exit 2; }

case $cmd in
  _watch) # _watch SERVER OWNER MAX_SECONDS — the watchdog's loop
    while [ -d "/proc/$3" ] && [ "$SECONDS" -lt "$4" ]; do sleep 1; done
    pgrun pg_ctl -D "$2/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$2"
    ;;
  start)
    [ -e "$state/server" ] && bash "$self" stop "$state"
    mkdir -p "$state"
    state=$(cd "$state" && pwd)
    srv=$(mktemp -d /tmp/cairn-pg.XXXXXX)
    chmod 755 "$srv"
    mkdir "$srv/sock"
    [ "$(id -u)" -eq 0 ] && chown -R postgres: "$srv"
    echo "$srv" >"$state/server"
    ln -sfn "$srv/log" "$state/log"
    pgrun initdb -D "$srv/data" -A trust -U cairn --no-sync -E UTF8 \
      --locale=C >"$srv/initdb.log" 2>&1 ||
      { cat "$srv/initdb.log" >&2; exit 1; }
    # A free port below Linux's ephemeral range; retried if taken meanwhile.
    for _ in 1 2 3 4 5 6 7 8; do
      port=$((20000 + RANDOM % 12000))
      port_taken "$port" && continue
      pgstart "$srv" "$port" && break
      port=""
    done
    [ -n "${port-}" ] || { echo "pg.sh: the server did not start:" >&2
                           tail -n 20 "$srv/log" >&2; exit 1; }
    echo "$port" >"$state/port"
    echo "postgresql://cairn@127.0.0.1:$port/postgres" >"$state/url"
    setsid nohup bash "$self" _watch "$srv" "${PG_OWNER_PID:-$PPID}" \
      "${PG_MAX_SECONDS:-5400}" </dev/null >/dev/null 2>&1 &
    echo $! >"$state/watchdog.pid"
    cat "$state/url"
    ;;
  stop)
    if p=$(watchdog_pid "$state"); then kill -- -"$p" 2>/dev/null || true; fi
    srv=$(cat "$state/server" 2>/dev/null) || srv=""
    if [ -n "$srv" ] && [ -d "$srv/data" ]; then
      pgrun pg_ctl -D "$srv/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    [ -n "$srv" ] && rm -rf "$srv"
    rm -rf "$state"
    ;;
  crash)
    pgrun pg_ctl -D "$(cat "$state/server")/data" -m immediate stop >/dev/null
    ;;
  restart)
    pgstart "$(cat "$state/server")" "$(cat "$state/port")"
    ;;
  createdb)
    name=${3:?pg.sh createdb STATE NAME}
    url=$(cat "$state/url")
    PGOPTIONS="-c client_min_messages=warning" \
      "$bin/psql" -X -q "$url" -v ON_ERROR_STOP=1 \
      -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" \
      -c "CREATE DATABASE \"$name\""
    echo "${url%/postgres}/$name"
    ;;
  url)
    cat "$state/url"
    ;;
  *)
    echo "pg.sh: unknown command $cmd" >&2
    exit 2
    ;;
esac
