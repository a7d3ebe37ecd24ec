#!/usr/bin/env python3
"""Where one replica's memory goes at saturation.

    python3 loadtest/memory.py [--duration 10] [--conns 200] [--browser-headers]
                               [--only default,no events] [--repeat 1]

Starts one kurz replica on SQLite with the seed data (the default setup),
drives cache-hit redirects with wrk until it saturates, and records the
peak RSS and its parts from /proc (anonymous memory, mapped files such as
the binary and SQLite's shared WAL index). Then it repeats the run changing
one thing at a time, so each row's difference from the first is what that
part costs:

  default            defaults
  idle               the replica after start, before any request
  no events          HEAD requests: the same path without the event queue,
                     batches and the SQLite writer's page cache filling
  small batches      KURZ_EVENT_BATCH_MAX=5000 (the batch payload and its parse)
  short queue        KURZ_EVENT_QUEUE_CAPACITY=16384 (events waiting while the
                     writer writes; a full queue holds redirects back)
  no metrics         KURZ_METRICS=false
  access log         KURZ_LOG=info, the default: one JSON line per request
                     (to /dev/null here; the other runs log warnings only)
  purge later        MIMALLOC_PURGE_DELAY=1000, the allocator's own default
                     (kurz serve purges at once; this is what that saves)
  huge pages         MIMALLOC_ALLOW_THP=1: let the kernel back mimalloc's
                     arenas with 2 MiB transparent huge pages (kurz serve
                     refuses them; this is what that saves)

The anonymous memory at the peak is split by mapping (/proc/PID/smaps):
the Rust heap (mimalloc's arena, the one anonymous mapping of 1 GiB or
more), the C heap (glibc's arenas, 64 MiB-aligned: SQLite's page caches
and statements, allocated by each connection's thread), and the rest
(thread stacks, the allocator's own tables).

Result: loadtest/results/memory.md.
"""

import argparse
import os
import re
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import bench as b

PORT = 19002
URL = f"http://127.0.0.1:{PORT}"
VARIANTS = [
    ("default", {}, "GET"),
    ("no events", {}, "HEAD"),
    ("small batches", {"KURZ_EVENT_BATCH_MAX": "5000"}, "GET"),
    ("short queue", {"KURZ_EVENT_QUEUE_CAPACITY": "16384"}, "GET"),
    ("no metrics", {"KURZ_METRICS": "false"}, "GET"),
    ("access log", {"KURZ_LOG": "info"}, "GET"),
    ("purge later", {"MIMALLOC_PURGE_DELAY": "1000"}, "GET"),
    ("huge pages", {"MIMALLOC_ALLOW_THP": "1"}, "GET"),
]


def status(pid):
    text = Path(f"/proc/{pid}/status").read_text()
    field = lambda name: int(re.search(rf"^{name}:\s+(\d+)", text, re.M).group(1)) / 1024  # noqa: E731
    return {"rss": field("VmRSS"), "anon": field("RssAnon"), "file": field("RssFile") + field("RssShmem"),
            "hwm": field("VmHWM"), **heaps(pid)}


MAPPING = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$")


def heaps(pid):
    """Resident MiB of the Rust heap and the C heap (see the module doc)."""
    parts = {"rust_heap": 0.0, "c_heap": 0.0}
    kind = None
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        m = MAPPING.match(line)
        if m:
            start, end, name = int(m.group(1), 16), int(m.group(2), 16), m.group(3)
            if name:
                kind = None
            elif end - start >= 1 << 30:
                kind = "rust_heap"
            elif start % (64 << 20) == 0:
                kind = "c_heap"
            else:
                kind = None
        elif kind and line.startswith("Rss:"):
            parts[kind] += int(line.split()[1]) / 1024
    return parts


def run(name, extra, method, args, codes):
    tmp = tempfile.mkdtemp(prefix="kurz-mem-")
    env = dict(os.environ, DATABASE_URL=f"sqlite:{tmp}/kurz.db", KURZ_LOG="warn", KURZ_BIND=f"127.0.0.1:{PORT}")
    env.update(extra)
    b.sh(str(b.KURZ), "import", "--users", str(b.SEED / "users.csv"), "--urls", str(b.SEED / "urls.csv"),
         "--events", str(b.SEED / "events.csv"), env=env, capture=True)
    proc = subprocess.Popen([str(b.KURZ), "serve"], env=env, stdout=subprocess.DEVNULL)
    try:
        b.wait_ready(URL + "/health/ready")
        idle = status(proc.pid)
        peak = dict(idle)
        done = threading.Event()

        def sample():
            while not done.is_set():
                now = status(proc.pid)
                if now["rss"] > peak["rss"]:
                    peak.update(now)
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        script_args = [str(codes), method] + (["browser"] if args.browser_headers else [])
        r = b.run_wrk(URL, args.conns, args.duration, "redirect.lua", script_args)
        done.set()
        sampler.join()
        peak["hwm"] = status(proc.pid)["hwm"]
        rps = r["requests"] / (r["duration_us"] / 1e6)
    finally:
        b.stop(proc)
    print(f"  {name:14} {rps:>8.0f} req/s  peak RSS {peak['hwm']:.1f} MiB "
          f"(anon {peak['anon']:.1f}: Rust heap {peak['rust_heap']:.1f}, C heap {peak['c_heap']:.1f}; "
          f"files {peak['file']:.1f})  idle {idle['rss']:.1f}", flush=True)
    return name, rps, idle, peak


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--conns", type=int, default=200)
    parser.add_argument("--browser-headers", action="store_true",
                        help="redirects carry browsers' user agents and referrers (wrk/redirect.lua)")
    parser.add_argument("--only", help="comma-separated runs to make (default: all)")
    parser.add_argument("--repeat", type=int, default=1, help="make each run this many times, in turn")
    args = parser.parse_args()
    chosen = VARIANTS
    if args.only:
        names = args.only.split(",")
        chosen = [v for v in VARIANTS if v[0] in names]
        unknown = set(names) - {v[0] for v in chosen}
        if unknown:
            raise SystemExit(f"unknown runs: {', '.join(sorted(unknown))}")
    if "KURZ_BIN" not in os.environ:
        b.sh("cargo", "build", "--release", "--quiet", "--bin", "kurz")
    codes = b.active_codes()
    rows = [run(name, extra, method, args, codes)
            for _ in range(args.repeat) for name, extra, method in chosen]
    headers = " with browsers' headers" if args.browser_headers else ""
    flags = (f" --conns {args.conns}" + (" --browser-headers" if args.browser_headers else "")
             + (f" --only '{args.only}'" if args.only else "") + (f" --repeat {args.repeat}" if args.repeat > 1 else ""))
    lines = [f"One SQLite replica, seed data, wrk -c{args.conns} -d{args.duration}s of cache-hit redirects{headers} "
             f"(`python3 loadtest/memory.py{flags}`, {time.strftime('%Y-%m-%d %H:%M')}).", "",
             "| run | req/s | peak RSS MiB | anonymous at peak | of it Rust heap | of it C heap (SQLite) "
             "| files at peak (binary, WAL index) | RSS after start |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, rps, idle, peak in rows:
        lines.append(f"| {name} | {rps:,.0f} | {peak['hwm']:.1f} | {peak['anon']:.1f} | {peak['rust_heap']:.1f} | "
                     f"{peak['c_heap']:.1f} | {peak['file']:.1f} | {idle['rss']:.1f} |")
    text = "\n".join(lines) + "\n"
    b.RESULTS.mkdir(parents=True, exist_ok=True)
    (b.RESULTS / "memory.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
