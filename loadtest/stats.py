#!/usr/bin/env python3
"""Reports of a link with ten million redirects.

    python3 loadtest/stats.py [--engine sqlite|postgres|both] [--events 10000000]

Builds a store holding one user, one link and N redirect events spread over
the last 365 days (SQLite: a recursive CTE; PostgreSQL: generate_series, on
a throwaway server in loadtest/.stats/), with a realistic spread of
referrers, browsers, systems, devices, bots (5%) and 200,000 visitors. Then
`kurz rebuild-stats` rolls the log up (timed), one replica serves, and wrk
asks for the link's report (daily series, whole life), its hourly report
for the last 30 days, and the user's report, 10 s each, with one
connection (a report's own latency) and with 16 (the replica saturated).
Result: loadtest/results/stats.md.
"""

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import bench as b
import scale

STATE = b.ROOT / "loadtest" / ".stats"
PG_PORT = 18542
PORT = 19003
CONNS = [1, 16]
URL = f"http://127.0.0.1:{PORT}"

# Value lists the generated events cycle through (coprime lengths, so the
# combinations vary).
REFERRERS = ["NULL", "'news.example'", "'t.co'", "'search.example'", "'mail.example'", "'blog.example'",
             "'forum.example'", "'docs.example'", "'a.example'", "'b.example'", "'c.example'", "'d.example'", "'e.example'"]
BROWSERS = ["'Chrome'", "'Safari'", "'Firefox'", "'Edge'", "'Opera'", "'Samsung Browser'", "'Other'"]
SYSTEMS = ["'Windows'", "'iOS'", "'Android'", "'macOS'", "'Linux'"]
DEVICES = ["'desktop'", "'mobile'", "'tablet'"]


def pick(values, n_expr, mod_offset):
    cases = " ".join(f"WHEN {i} THEN {v}" for i, v in enumerate(values))
    return f"CASE ({n_expr} / {mod_offset}) % {len(values)} {cases} END"


def columns(n):
    """The analytics columns of event number `n` (an SQL expression)."""
    bot = f"({n} % 20 = 0)"
    return (f"{pick(REFERRERS, n, 1)}, {pick(BROWSERS, n, 3)}, {pick(SYSTEMS, n, 7)}, "
            f"{pick(DEVICES, n, 11)}, {bot}, ({n} * 7919) % 200000")


def build_sqlite(path, events):
    env = dict(os.environ, DATABASE_URL=f"sqlite:{path}", KURZ_LOG="warn")
    b.sh(str(b.KURZ), "migrate", env=env, capture=True)
    import sqlite3
    db = sqlite3.connect(path)
    db.execute("INSERT INTO users (id, username, email, email_key, created_at) "
               "VALUES (1, 'ada', 'ada@example.com', 'ada@example.com', '2025-01-01 00:00:00')")
    db.execute("INSERT INTO short_codes (code) VALUES ('popular')")
    db.execute("INSERT INTO urls (id, user_id, short_code, original_url, is_active, created_at, updated_at) "
               "VALUES (1, 1, 'popular', 'https://example.com/', 1, '2025-01-01 00:00:00', '2025-01-01 00:00:00')")
    step = 365 * 86400 / events
    db.execute(f"""WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {events - 1})
        INSERT INTO events (url_id, user_id, event_type, timestamp, details,
                            referrer_host, browser, os, device, bot, visitor)
        SELECT 1, 1, 'redirect', datetime('now', '-365 days', '+' || CAST(i * {step} AS INTEGER) || ' seconds'),
               '{{"short_code":"popular"}}', {columns('i')} FROM n""")
    db.commit()
    db.close()
    return env


def build_postgres(events):
    scale.STATE = STATE
    scale.PG_PORT = PG_PORT
    scale.stop_pg()
    shutil.rmtree(STATE / "pg", ignore_errors=True)
    (STATE / "pg").mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(STATE / "pg", "postgres")
    scale.as_pg(scale.pg_bin() / "initdb", "-D", STATE / "pg" / "data", "-A", "trust", "-U", "postgres",
                "-E", "UTF8", stdout=subprocess.DEVNULL)
    scale.pg_ctl("start", scale.BULK)
    scale.psql("CREATE DATABASE kurz", db="postgres")
    url = f"postgres://postgres@127.0.0.1:{PG_PORT}/kurz"
    env = dict(os.environ, DATABASE_URL=url, KURZ_LOG="warn")
    b.sh(str(b.KURZ), "migrate", env=env, capture=True)
    scale.psql("INSERT INTO users (id, username, email, email_key, created_at) "
               "VALUES (1, 'ada', 'ada@example.com', 'ada@example.com', '2025-01-01');"
               "INSERT INTO short_codes (code) VALUES ('popular');"
               "INSERT INTO urls (id, user_id, short_code, original_url, is_active, created_at, updated_at) "
               "VALUES (1, 1, 'popular', 'https://example.com/', TRUE, '2025-01-01', '2025-01-01')")
    step = 365 * 86400 / events
    scale.psql(f"""INSERT INTO events (url_id, user_id, event_type, timestamp, details,
                                      referrer_host, browser, os, device, bot, visitor)
        SELECT 1, 1, 'redirect', date_trunc('second', now()::timestamp - interval '365 days'
                                           + make_interval(secs => i * {step})),
               '{{"short_code":"popular"}}', {columns('i')} FROM generate_series(0::BIGINT, {events - 1}) AS i""")
    scale.pg_ctl("stop")
    scale.pg_ctl("start", scale.SERVE)
    return env


def run(engine, events, duration):
    tmp = tempfile.mkdtemp(prefix="kurz-stats-")
    started = time.time()
    env = build_sqlite(f"{tmp}/kurz.db", events) if engine == "sqlite" else build_postgres(events)
    built = time.time() - started
    started = time.time()
    b.sh(str(b.KURZ), "rebuild-stats", env=env)
    rebuilt = time.time() - started
    env = dict(env, KURZ_BIND=f"127.0.0.1:{PORT}")
    proc = subprocess.Popen([str(b.KURZ), "serve"], env=env, stdout=subprocess.DEVNULL)
    rows = []
    try:
        b.wait_ready(f"{URL}/health/ready", seconds=600)
        month_ago = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 30 * 86400))
        for name, path in [("link, daily, whole life", "/urls/1/stats"),
                           ("link, hourly, 30 days", f"/urls/1/stats?granularity=hour&from={month_ago}"),
                           ("user, daily, whole life", "/users/1/stats")]:
            b.run_wrk(URL, 4, 2, "path.lua", [path])
            for conns in CONNS:
                row = b.measure(f"{name}, {conns} conn", URL, conns, duration, "path.lua", [path],
                                {"kurz": [proc.pid]})
                rows.append(row)
        with __import__("urllib.request").request.urlopen(f"{URL}/urls/1/stats") as r:
            report = __import__("json").loads(r.read())
    finally:
        b.stop(proc)
        if engine == "postgres":
            scale.stop_pg()
        shutil.rmtree(tmp, ignore_errors=True)
    assert report["redirects"] + report["bot_redirects"] == events, report
    return {"engine": engine, "events": events, "built": built, "rebuilt": rebuilt, "rows": rows,
            "redirects": report["redirects"], "bots": report["bot_redirects"],
            "visitors": report["unique_visitors"], "buckets": len(report["series"])}


def table(results):
    lines = ["| engine | report | req/s | p50 ms | p99 ms | kurz CPU |", "|---|---|---:|---:|---:|---:|"]
    for r in results:
        for row in r["rows"]:
            lines.append(f"| {r['engine']} | {row['workload']} | {row['rps']:,.0f} | {row['p50_ms']:.2f} | "
                         f"{row['p99_ms']:.2f} | {row['cpu']['kurz']:.2f} |")
    lines += ["", "| engine | events | built in | `kurz rebuild-stats` | redirects + bots | visitors | daily buckets |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['engine']} | {r['events']:,} | {r['built']:.0f} s | {r['rebuilt']:.1f} s | "
                     f"{r['redirects']:,} + {r['bots']:,} | {r['visitors']:,} | {r['buckets']} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", default="both", choices=["sqlite", "postgres", "both"])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    b.sh("cargo", "build", "--release", "--quiet", "--bin", "kurz")
    engines = ["sqlite", "postgres"] if args.engine == "both" else [args.engine]
    results = [run(e, args.events, args.duration) for e in engines]
    report = (f"Run {time.strftime('%Y-%m-%d %H:%M:%S')} on {os.cpu_count()} cores ({b.KURZ}); "
              f"wrk with 1 and 16 connections, {args.duration}s per report.\n\n" + table(results))
    b.RESULTS.mkdir(parents=True, exist_ok=True)
    (b.RESULTS / "stats.md").write_text(report)
    print()
    print(report)


if __name__ == "__main__":
    main()
