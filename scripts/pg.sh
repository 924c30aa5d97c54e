#!/usr/bin/env bash
# A throwaway PostGIS cluster for tests and benchmarks: its own data directory and port.
#   scripts/pg.sh start DIR PORT   prints the DATABASE_URL of a fresh `bando` database
#   scripts/pg.sh stop DIR
#   scripts/pg.sh resume DIR       starts a stopped cluster again (for the fault tests)
# PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user.
set -euo pipefail
cmd=$1 dir=$2
bin=/usr/lib/postgresql/15/bin
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case $cmd in
start)
  port=$3
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  as_pg "$bin/initdb" -D "$dir/data" -U bando -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
  cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 512MB
work_mem = 64MB
maintenance_work_mem = 512MB
max_connections = 200
CONF
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
  psql -q -h 127.0.0.1 -p "$port" -U bando -d postgres -c "CREATE DATABASE bando" >/dev/null
  echo "postgres://bando@127.0.0.1:$port/bando"
  ;;
resume)
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
  ;;
stop)
  [ -d "$dir/data" ] && as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
  ;;
*) echo "usage: $0 start DIR PORT | stop DIR | resume DIR" >&2; exit 2 ;;
esac
