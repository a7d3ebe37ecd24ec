# Sourced by loadtest/cpu-per-request, loadtest/instructions-per-request,
# loadtest/writer-duty, loadtest/creations, loadtest/sqlite-memory and
# loadtest/grown-log: one SQLite replica of the seed data on a fresh file,
# for measuring the redirect path, and where its event writer runs.
#
#   start_seeded_replica BINARY PORT [WRAPPER ...]
#
# Writes the active seed codes to $codes (for loadtest/wrk/redirect.lua),
# imports the seed data into a new file in $dir (made here unless the caller
# made it first, to name files in it for WRAPPER), starts `BINARY serve` on
# 127.0.0.1:PORT (under WRAPPER, e.g. valgrind, when given), sets $pid and
# $url, removes both on exit, and returns once the replica is ready.
start_seeded_replica() {
  local bin=$1 port=$2
  shift 2
  codes=loadtest/results/codes.txt
  mkdir -p loadtest/results
  python3 -c "import csv; rows = csv.DictReader(open('tests/fixtures/seed/urls.csv', newline='')); \
open('$codes', 'w').write(''.join(r['short_code'] + '\n' for r in rows if r['is_active'].lower() == 'true'))"
  dir=${dir:-$(mktemp -d)}
  url=http://127.0.0.1:$port
  export DATABASE_URL="sqlite:$dir/kurz.db" KURZ_LOG=${KURZ_LOG:-warn} KURZ_BIND=127.0.0.1:$port
  "$bin" import --users tests/fixtures/seed/users.csv --urls tests/fixtures/seed/urls.csv \
    --events tests/fixtures/seed/events.csv >/dev/null
  "$@" "$bin" serve >/dev/null 2>"$dir/serve.log" &
  pid=$!
  trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
  # Under valgrind the start takes a minute.
  for _ in $(seq 300); do
    curl -sf "$url/health/ready" >/dev/null && return 0
    sleep 0.2
  done
  echo "the replica on $url did not become ready" >&2
  return 1
}

# The thread ids of the replica's event writer: the SQLite connection it
# writes on (the first connection the store opens, so the lowest-numbered
# thread named sqlx-sqlite-worker) and the thread its loop runs on
# (kurz-events; absent when the loop runs as a task). Sets $writer and
# $writer_loop.
find_writer_threads() {
  local task comm
  writer='' writer_loop=''
  for task in $(ls /proc/"$pid"/task | sort -n); do
    comm=$(cat "/proc/$pid/task/$task/comm")
    if [ "$comm" = sqlx-sqlite-wor ] && [ -z "$writer" ]; then writer=$task; fi
    if [ "$comm" = kurz-events ]; then writer_loop=$task; fi
  done
}

# A memory figure of the replica from /proc/$pid/status, in whole MiB:
# `replica_mib VmHWM` (the peak resident memory) or `replica_mib VmRSS`.
replica_mib() {
  awk -v field="$1:" '$1 == field {printf "%d", $2 / 1024}' "/proc/$pid/status"
}
