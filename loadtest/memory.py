#!/usr/bin/env python3
"""Where one replica's memory goes at saturation.

    python3 loadtest/memory.py [--duration 10] [--conns 200] [--browser-headers]

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
  purge later        MIMALLOC_PURGE_DELAY=1000, the allocator's own default
                     (kurz serve purges at once; this is what that saves)
  huge pages         MIMALLOC_ALLOW_THP=1: let the kernel back mimalloc's
                     arenas with 2 MiB transparent huge pages (kurz serve
                     refuses them; this is what that saves)

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
    ("purge later", {"MIMALLOC_PURGE_DELAY": "1000"}, "GET"),
    ("huge pages", {"MIMALLOC_ALLOW_THP": "1"}, "GET"),
]


def status(pid):
    text = Path(f"/proc/{pid}/status").read_text()
    field = lambda name: int(re.search(rf"^{name}:\s+(\d+)", text, re.M).group(1)) / 1024  # noqa: E731
    return {"rss": field("VmRSS"), "anon": field("RssAnon"), "file": field("RssFile") + field("RssShmem"),
            "hwm": field("VmHWM")}


def run(name, extra, method, args, codes):
    tmp = tempfile.mkdtemp(prefix="kurz-mem-")
    env = dict(os.environ, DATABASE_URL=f"sqlite:{tmp}/kurz.db", KURZ_LOG="warn", KURZ_BIND=f"127.0.0.1:{PORT}",
               **extra)
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
          f"(anon {peak['anon']:.1f}, files {peak['file']:.1f})  idle {idle['rss']:.1f}", flush=True)
    return name, rps, idle, peak


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--conns", type=int, default=200)
    parser.add_argument("--browser-headers", action="store_true",
                        help="redirects carry browsers' user agents and referrers (wrk/redirect.lua)")
    args = parser.parse_args()
    b.sh("cargo", "build", "--release", "--quiet", "--bin", "kurz")
    codes = b.active_codes()
    rows = [run(name, extra, method, args, codes) for name, extra, method in VARIANTS]
    headers = " with browsers' headers" if args.browser_headers else ""
    flags = f" --conns {args.conns}" + (" --browser-headers" if args.browser_headers else "")
    lines = [f"One SQLite replica, seed data, wrk -c{args.conns} -d{args.duration}s of cache-hit redirects{headers} "
             f"(`python3 loadtest/memory.py{flags}`, {time.strftime('%Y-%m-%d %H:%M')}).", "",
             "| run | req/s | peak RSS MiB | anonymous at peak | files at peak (binary, WAL index) | RSS after start |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, rps, idle, peak in rows:
        lines.append(f"| {name} | {rps:,.0f} | {peak['hwm']:.1f} | {peak['anon']:.1f} | {peak['file']:.1f} | "
                     f"{idle['rss']:.1f} |")
    text = "\n".join(lines) + "\n"
    b.RESULTS.mkdir(parents=True, exist_ok=True)
    (b.RESULTS / "memory.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
