#!/usr/bin/env python3
"""kurz at size: build a large store, then measure redirects, event pages,
imports and bytes on disk on it.

    python3 loadtest/scale.py generate --engine postgres   # 10^7 links, 10^8 events
    python3 loadtest/scale.py generate --engine sqlite     # 10^6 links, 10^7 events
    python3 loadtest/scale.py bench --engine postgres      # the runs, table in loadtest/results
    python3 loadtest/scale.py import --engine postgres     # only the import rate (no big store needed)
    python3 loadtest/scale.py down                         # stop the PostgreSQL it started

KURZ_BIN=/path/to/kurz measures that binary instead of building this tree.

Link i (1 <= i <= N) has code "k<i>" and belongs to user 1 + i % U. Events
go to links Zipf-distributed (s = 1, the same permutation loadtest/wrk/zipf.lua
uses), ids in time order, spread over the three months before this one and
this month so far. PostgreSQL data is generated in the database itself
(generate_series), each month into a plain table that gets its indexes after
the load and is then attached as that month's partition: the same layout
kurz's migrations and partition upkeep make. SQLite: the same rows with a
recursive CTE, indexes dropped during the load and rebuilt.

Everything lives in loadtest/.scale/ (PostgreSQL on port 18532).
"""

import argparse
import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / "loadtest" / ".scale"
RESULTS = ROOT / "loadtest" / "results"
# KURZ_BIN: a kurz binary to measure instead of building this tree.
KURZ = Path(os.environ.get("KURZ_BIN", ROOT / "target" / "release" / "kurz"))
WRK = ROOT / "loadtest" / "wrk"
PG_PORT = 18532
PG_URL = f"postgres://postgres@127.0.0.1:{PG_PORT}/kurz"
SQLITE_FILE = STATE / "sqlite" / "kurz.db"
PERM = 1000003  # must match loadtest/wrk/zipf.lua
SIZES = {"postgres": (10_000_000, 100_000_000), "sqlite": (1_000_000, 10_000_000)}
USERS = 100_000
BULK = ["-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
        "-c", "wal_level=minimal", "-c", "max_wal_senders=0", "-c", "maintenance_work_mem=1GB",
        "-c", "max_wal_size=20GB", "-c", "checkpoint_timeout=1h", "-c", "shared_buffers=1GB"]
# Sized for the store: the hot month's indexes and the link table's in memory.
SERVE = ["-c", "shared_buffers=4GB", "-c", "max_wal_size=4GB", "-c", "max_connections=200"]


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pg_bin():
    versions = sorted(Path("/usr/lib/postgresql").iterdir(), key=lambda p: int(p.name))
    return versions[-1] / "bin"


def as_pg(*cmd, **kw):
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run([*prefix, *map(str, cmd)], check=True, **kw)


def pg_ctl(action, options=()):
    data = STATE / "pg" / "data"
    opts = " ".join(["-p", str(PG_PORT), "-k", str(data), "-c", "listen_addresses=127.0.0.1", *options])
    args = [pg_bin() / "pg_ctl", "-D", data, "-l", STATE / "pg" / "server.log", "-w"]
    if action == "start":
        args += ["-o", opts]
    as_pg(*args, action, stdout=subprocess.DEVNULL)


def psql(sql, db="kurz", capture=False):
    out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres", "-d", db,
                          "-v", "ON_ERROR_STOP=1", "-qAtc", sql], check=True, text=True,
                         stdout=subprocess.PIPE if capture else None)
    return out.stdout.strip() if capture else None


def months():
    """The three months before this one and this one: (name, start, end, share)."""
    today = dt.date.today()
    first = today.replace(day=1)
    starts = []
    m = first
    for _ in range(3):
        m = (m - dt.timedelta(days=1)).replace(day=1)
        starts.append(m)
    starts = sorted(starts) + [first]
    spans = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else today
        spans.append((f"events_{start:%Y_%m}", start, end))
    total = sum((e - s).days for _, s, e in spans)
    return [(n, s, e, (e - s).days / total) for n, s, e in spans]


def fresh_pg():
    """An empty server with the serving settings, when generate never ran."""
    if (STATE / "pg" / "data").exists():
        return
    (STATE / "pg").mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(STATE / "pg", "postgres")
    as_pg(pg_bin() / "initdb", "-D", STATE / "pg" / "data", "-A", "trust", "-U", "postgres", "-E", "UTF8",
          stdout=subprocess.DEVNULL)


def stop_pg():
    if (STATE / "pg" / "data" / "postmaster.pid").exists():
        pg_ctl("stop")


def generate_postgres(links, events):
    stop_pg()
    shutil.rmtree(STATE / "pg", ignore_errors=True)
    (STATE / "pg").mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(STATE / "pg", "postgres")
    as_pg(pg_bin() / "initdb", "-D", STATE / "pg" / "data", "-A", "trust", "-U", "postgres", "-E", "UTF8",
          stdout=subprocess.DEVNULL)
    pg_ctl("start", BULK)
    psql("CREATE DATABASE kurz", db="postgres")
    subprocess.run([KURZ, "migrate", "--log", "warn"], check=True, env={**os.environ, "DATABASE_URL": PG_URL})
    log(f"users ({USERS:,}) and links ({links:,})")
    psql(f"""
        SET session_replication_role = replica;
        INSERT INTO users (id, username, email, email_key, created_at)
          SELECT g, 'user' || g, 'user' || g || '@example.com', 'user' || g || '@example.com', now()
          FROM generate_series(1, {USERS}) g;
        INSERT INTO short_codes SELECT 'k' || g FROM generate_series(1, {links}) g;
        INSERT INTO urls (id, user_id, short_code, original_url, title, is_active, created_at, updated_at)
          SELECT g, 1 + g % {USERS}, 'k' || g, 'https://example.com/page/' || g, NULL, true, now(), now()
          FROM generate_series(1, {links}) g;
        SELECT setval('users_id_seq', {USERS}); SELECT setval('urls_id_seq', {links});
    """)
    first_id = 1
    for name, start, end, share in months():
        count = int(events * share)
        log(f"{name}: {count:,} events")
        seconds = (end - start).days * 86400
        psql(f"""
            CREATE TABLE {name} (LIKE events INCLUDING DEFAULTS);
            INSERT INTO {name} (id, url_id, user_id, event_type, timestamp, details)
              SELECT g, u, 1 + u % {USERS}, 'redirect',
                     '{start}'::timestamp + ((g - {first_id}) * {seconds / max(1, count)}) * interval '1 second',
                     jsonb_build_object('short_code', 'k' || u, 'user_agent', 'Mozilla/5.0')
              FROM (SELECT g, (floor(power({links}::float8, random()))::bigint * {PERM}) % {links} + 1 AS u
                    FROM generate_series({first_id}, {first_id + count - 1}) g) s;
            ALTER TABLE {name} ADD PRIMARY KEY (id, timestamp);
            CREATE INDEX ON {name} (url_id, id);
            CREATE INDEX ON {name} (user_id, id);
            CREATE INDEX ON {name} (event_type, id) WHERE event_type <> 'redirect';
            ALTER TABLE {name} ADD CONSTRAINT {name}_range
              CHECK (timestamp >= '{start}' AND timestamp < '{start}'::date + interval '1 month');
            ALTER TABLE events ATTACH PARTITION {name}
              FOR VALUES FROM ('{start}') TO ('{start}'::date + interval '1 month');
        """)
        first_id += count
    psql(f"SELECT setval('events_id_seq', {first_id})")
    psql("VACUUM ANALYZE")
    stop_pg()
    log("done")


def generate_sqlite(links, events):
    shutil.rmtree(STATE / "sqlite", ignore_errors=True)
    (STATE / "sqlite").mkdir(parents=True)
    subprocess.run([KURZ, "migrate", "--log", "warn"], check=True,
                   env={**os.environ, "DATABASE_URL": f"sqlite:{SQLITE_FILE}"})
    db = sqlite3.connect(SQLITE_FILE)
    db.create_function("zipf_link", 1, lambda r: (int(links ** r) * PERM) % links + 1, deterministic=True)
    db.executescript(f"""
        PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -1000000;
        BEGIN;
        WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {USERS})
        INSERT INTO users (id, username, email, email_key, created_at)
          SELECT i, 'user' || i, 'user' || i || '@example.com', 'user' || i || '@example.com', '2026-01-01 00:00:00' FROM g;
        WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {links})
        INSERT INTO short_codes SELECT 'k' || i FROM g;
        WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {links})
        INSERT INTO urls (id, user_id, short_code, original_url, title, is_active, created_at, updated_at)
          SELECT i, 1 + i % {USERS}, 'k' || i, 'https://example.com/page/' || i, NULL, 1,
                 '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM g;
        COMMIT;
    """)
    links_bytes = SQLITE_FILE.stat().st_size
    log(f"links done; {events:,} events")
    start = dt.datetime.combine(months()[0][1], dt.time())
    step = (dt.datetime.now() - start).total_seconds() / events
    # The event log's indexes as kurz's migrations made them, rebuilt after the load.
    indexes = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL"
    ).fetchall()
    db.executescript("".join(f"DROP INDEX {name};" for name, _ in indexes) + f"""
        BEGIN;
        WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {events})
        INSERT INTO events (id, url_id, user_id, event_type, timestamp, details)
          SELECT i, u, 1 + u % {USERS}, 'redirect',
                 strftime('%Y-%m-%d %H:%M:%S', '{start:%Y-%m-%d %H:%M:%S}', '+' || CAST(i * {step} AS INTEGER) || ' seconds'),
                 json_object('short_code', 'k' || u, 'user_agent', 'Mozilla/5.0')
          FROM (SELECT i, zipf_link(abs(random()) / 9223372036854775807.0) AS u FROM g);
        COMMIT;
    """ + "".join(f"{sql};" for _, sql in indexes) + "ANALYZE;")
    db.close()
    (STATE / "sqlite" / "links_bytes").write_text(str(links_bytes))
    log("done")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["generate", "bench", "import", "down"])
    parser.add_argument("--engine", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--links", type=int)
    parser.add_argument("--events", type=int)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    links, events = SIZES[args.engine]
    links, events = args.links or links, args.events or events
    if args.action == "down":
        stop_pg()
        return
    if "KURZ_BIN" not in os.environ:
        subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "kurz"], cwd=ROOT, check=True)
    started = time.time()
    if args.action == "generate":
        (generate_postgres if args.engine == "postgres" else generate_sqlite)(links, events)
        log(f"generated in {time.time() - started:.0f} s")
    elif args.action == "import":
        from scale_bench import import_only  # noqa: E402 (next to this file)
        import_only(args)
    else:
        from scale_bench import bench  # noqa: E402 (next to this file)
        bench(args, links, events)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
