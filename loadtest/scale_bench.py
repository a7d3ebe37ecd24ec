"""The runs of `loadtest/scale.py bench`: one kurz replica (defaults, no
Redis) on the generated store, wrk on the same machine.

  hits      Zipf redirects over the first 2,000 links, then over all links,
            200 connections: the local cache holds the head of the curve,
            the tail reads the store (the share is reported from /metrics)
  store     uniform redirects over all links, 16 connections: nearly every
            request misses the cache and reads the store
  missing   codes no link has (404), 16 connections; again with the filter
            of stored codes off (KURZ_CODE_FILTER=false), every 404 a store
            look-up. Both as fast as wrk can send (both cores saturated, so
            the tail is the scheduler's queue), and with the filter once more
            paced: each connection waits 1 ms after every answer, which
            holds the rate well under saturation and shows the path's own
            latency
  events    keyset pages of a Zipf-chosen link's events, 16 connections, as
            fast as wrk can send and again paced (each connection waits 10 ms
            after every answer)

Each row after a redirect row starts once the event writer has written
what that row queued (the wait is reported): at these sizes the writer
trails the redirects, and a row run over its backlog would measure both.
  import    `kurz import --events` of 1,000,000 generated rows into a new
            database beside the big one
  disk      bytes per link and per event, indexes included
"""

import csv
import os
import subprocess
import time
from pathlib import Path

import bench as b
import scale as s

PORT = 18600
URL = f"http://127.0.0.1:{PORT}"
IMPORT_ROWS = 1_000_000


def cache_counts():
    counts = {}
    for line in b.scrape(URL + "/metrics").splitlines():
        if line.startswith("kurz_cache_lookups_total{"):
            labels, value = line.rsplit(" ", 1)
            tier = labels.split('tier="')[1].split('"')[0]
            result = labels.split('result="')[1].split('"')[0]
            counts[(tier, result)] = float(value)
    return counts


def store_share(before, after):
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    local = sum(v for (tier, _), v in delta.items() if tier == "local")
    store = sum(v for (tier, _), v in delta.items() if tier == "store")
    return store / local if local else 0.0


def start_kurz(args, extra_env=None, start_pg=True):
    env = {**os.environ, "KURZ_BIND": f"127.0.0.1:{PORT}", "KURZ_LOG": "warn", **(extra_env or {})}
    if args.engine == "postgres":
        if start_pg:
            s.pg_ctl("start", s.SERVE)
        env["DATABASE_URL"] = s.PG_URL
    else:
        env["DATABASE_URL"] = f"sqlite:{s.SQLITE_FILE}"
    log = open(s.STATE / f"kurz-{args.engine}.log", "a")
    proc = subprocess.Popen([s.KURZ], env=env, stdout=log, stderr=subprocess.STDOUT)
    b.wait_ready(URL + "/health/ready", 120)
    if env.get("KURZ_CODE_FILTER", "true") != "false":
        # The filter of stored codes is built in the background after the
        # replica is ready; measure once it answers.
        started = time.time()
        while time.time() - started < 600 and filter_codes() == 0:
            time.sleep(1)
        s.log(f"code filter: {filter_codes():,.0f} codes after {time.time() - started:.0f} s")
    return proc


def writer_state():
    """(events queued, events written) from /metrics."""
    queued = written = 0.0
    for line in b.scrape(URL + "/metrics").splitlines():
        if line.startswith("kurz_events_queue_depth "):
            queued = float(line.split()[1])
        elif line.startswith("kurz_events_written_total "):
            written = float(line.split()[1])
    return queued, written


def writer_caught_up(limit=300):
    """Waits until the event writer has written what the last row queued
    (nothing queued, and no batch written for half a second), so that each
    row measures its own path and not the last row's backlog; returns the
    seconds that took."""
    started = time.time()
    last = None
    while time.time() - started < limit:
        state = writer_state()
        if state[0] == 0 and state == last:
            break
        last = state
        time.sleep(0.5)
    waited = time.time() - started
    s.log(f"event writer caught up after {waited:.1f} s")
    return waited


def filter_codes():
    try:
        text = b.scrape(URL + "/metrics")
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith("kurz_code_filter_codes "):
            return float(line.split()[1])
    return 0.0


def import_rate(args):
    path = s.STATE / "import-events.csv"
    if not path.exists():
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "url_id", "user_id", "event_type", "timestamp", "details"])
            for i in range(1, IMPORT_ROWS + 1):
                w.writerow([i, 1 + i % 5000, 1 + i % 400, "redirect", "2026-09-19 22:25:05",
                            f'{{"short_code": "k{1 + i % 5000}", "user_agent": "Mozilla/5.0"}}'])
    if args.engine == "postgres":
        s.psql("DROP DATABASE IF EXISTS kurz_import", db="postgres")
        s.psql("CREATE DATABASE kurz_import", db="postgres")
        url = s.PG_URL.rsplit("/", 1)[0] + "/kurz_import"
    else:
        target = s.STATE / "sqlite" / "import.db"
        target.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:{target}"
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([s.KURZ, "migrate", "--log", "warn"], check=True, env=env)
    started = time.time()
    subprocess.run([s.KURZ, "import", "--events", path, "--log", "warn"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return IMPORT_ROWS / (time.time() - started)


def import_only(args):
    """`kurz import --events` rate alone, three runs, on a fresh or the generated store's server."""
    if args.engine == "postgres":
        s.fresh_pg()
        s.stop_pg()
        s.pg_ctl("start", s.SERVE)
    try:
        rates = [import_rate(args) for _ in range(3)]
    finally:
        if args.engine == "postgres":
            s.stop_pg()
    s.log(f"kurz import --events, {IMPORT_ROWS:,} rows, {args.engine}: "
          + ", ".join(f"{r:,.0f}" for r in rates) + " rows/s")


def disk(args, links, events):
    if args.engine == "postgres":
        ev = int(s.psql("SELECT sum(pg_total_relation_size(c.oid)) FROM pg_inherits i "
                        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass",
                        capture=True))
        ln = int(s.psql("SELECT pg_total_relation_size('urls') + pg_total_relation_size('short_codes')",
                        capture=True))
        return ln / links, ev / events
    total = s.SQLITE_FILE.stat().st_size
    link_bytes = int((s.STATE / "sqlite" / "links_bytes").read_text())
    return link_bytes / links, (total - link_bytes) / events


def bench(args, links, events):
    proc = start_kurz(args)
    roles = {"kurz": [proc.pid]}
    rows = []
    try:
        d = args.duration
        b.run_wrk(URL, 50, 3, "zipf.lua", ["2000", "zipf"])  # warm the head
        rows.append(("hits, 2,000 links", b.measure("hits2k", URL, 200, d, "zipf.lua", ["2000", "zipf"], roles), None))
        caught_up = [writer_caught_up()]
        b.run_wrk(URL, 50, 3, "zipf.lua", [str(links), "zipf"])
        writer_caught_up()
        before = cache_counts()
        row = b.measure("hitsall", URL, 200, d, "zipf.lua", [str(links), "zipf"], roles)
        rows.append((f"hits, {links:,} links", row, store_share(before, cache_counts())))
        caught_up.append(writer_caught_up())
        before = cache_counts()
        row = b.measure("store", URL, 16, d, "zipf.lua", [str(links), "uniform"], roles)
        rows.append(("store (uniform)", row, store_share(before, cache_counts())))
        caught_up.append(writer_caught_up())
        rows.append(("events keyset page", b.measure("events", URL, 16, d, "events.lua", [str(links), str(events)], roles), None))
        rows.append(("events keyset page, paced 10 ms per connection",
                     b.measure("events", URL, 16, d, "events.lua", [str(links), str(events), "10"], roles), None))
        # 404s on a fresh replica (the redirect rows leave the event writer
        # busy for a while), then again with the filter of stored codes off:
        # every 404 a store look-up.
        for name, env, pace in [("missing code (404)", {}, []),
                                ("missing code (404), paced 1 ms per connection", {}, ["1"]),
                                ("missing code (404), no code filter", {"KURZ_CODE_FILTER": "false"}, [])]:
            proc.terminate()
            proc.wait(timeout=120)
            proc = start_kurz(args, env, start_pg=False)
            roles = {"kurz": [proc.pid]}
            script_args = [str(links), "miss"] + pace
            b.run_wrk(URL, 16, 3, "zipf.lua", script_args)
            rows.append((name, b.measure("missing", URL, 16, d, "zipf.lua", script_args, roles), None))
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    rate = import_rate(args)
    per_link, per_event = disk(args, links, events)
    if args.engine == "postgres":
        s.stop_pg()
    lines = [f"Store: {args.engine}, {links:,} links, {events:,} events "
             f"(`python3 loadtest/scale.py bench --engine {args.engine}`, {time.strftime('%Y-%m-%d %H:%M')})", "",
             "| run | conns | req/s | p50 ms | p99 ms | non-2xx/3xx | read the store | kurz CPU | kurz RSS MiB |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r, share in rows:
        lines.append(f"| {name} | {r['conns']} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                     f"{r['errors']:,} | {'' if share is None else f'{share:.1%}'} | {r['cpu']['kurz']:.2f} | "
                     f"{r['rss']['kurz'][1]:.0f} |")
    lines += ["", "- after each redirect row the next row waited for the event writer to write "
              "what that row had queued: " + ", ".join(f"{w:.1f} s" for w in caught_up),
              f"- `kurz import --events` of {IMPORT_ROWS:,} rows: {rate:,.0f} rows/s",
              f"- on disk, indexes included: {per_link:.0f} bytes per link, {per_event:.0f} bytes per event"]
    text = "\n".join(lines) + "\n"
    b.RESULTS.mkdir(parents=True, exist_ok=True)
    (b.RESULTS / f"scale-{args.engine}.md").write_text(text)
    print(text)
