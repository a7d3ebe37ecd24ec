#!/usr/bin/env python3
"""The redirect and mixed-traffic benchmark, run side by side with a baseline.

    python3 loadtest/bench.py [--duration 10] [--conns 50,200,500]
                              [--workloads baseline,sqlite,postgres,nginx,mixed]

Workloads (each at every connection count):
  baseline  the smallest axum 302 server (loadtest/baseline.rs): the hardware limit
  sqlite    cache-hit redirects straight to one kurz replica on SQLite
  nometrics the same with KURZ_METRICS=false (the cost of recording metrics)
  sqlite-reads    GET /users/{id} on that SQLite replica: one read statement each
  sqlite-creates  POST /urls on it, for random seed users: every request a
            committed link, code and `created` event through the one writer
  postgres  the same on one replica of the cluster (PostgreSQL + Redis)
  reads     GET /users/{id} on that replica: no cache in front, one statement
            on PostgreSQL per request (the cost of a pooled round trip)
  nginx     the same through nginx + 2 replicas + Redis + PostgreSQL
  mixed     80% Zipf redirects / 10% GET url / 5% POST url / 5% lists, through nginx,
            every connection sending as fast as it can (saturation)
  paced     the same mix, each connection pausing 50 ms between requests like a
            user, so the latency is the service's and not the queue's
  lists     a user's whole list of 1,000 links from one replica at 1, 16 and 50
            connections, against pgbench running the same SELECT (loadtest/lists.py);
            at 1 connection also the check for the 40 ms delayed-ACK stall
  seed      the seed system's k6 stress scenario (loadtest/k6/seed-stress.js, 130 s)
            through nginx + 2 replicas, CPU per process including k6 (loadtest/seed.py)
  creates   POST /urls alone on one replica of the cluster, for random seed users:
            every request a committed link, code and `created` event (run last:
            it grows the seed users' lists)

Load comes from wrk (2 threads) on the same two cores as the servers, so
every ratio is taken in one run. Per process it records CPU (cores used)
and RSS; after each service's runs it stops the replicas gracefully and
compares redirects served (from /metrics) with redirect events stored.
Results: loadtest/results/latest.md and latest.json.
"""

import argparse
import functools
import json
import os
import pathlib
import re
import signal
import sqlite3
import subprocess
import tempfile
import time
import urllib.request

import lists
import seed
import visibility

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "fixtures" / "seed"
RESULTS = ROOT / "loadtest" / "results"
WRK = ROOT / "loadtest" / "wrk"
# KURZ_BIN: a kurz binary to measure instead of building this tree (e.g.
# an older commit's, for a before/after pair in one sitting).
KURZ = pathlib.Path(os.environ.get("KURZ_BIN", ROOT / "target" / "release" / "kurz"))
BASELINE = ROOT / "target" / "release" / "examples" / "baseline"
TICK = os.sysconf("SC_CLK_TCK")
CLUSTER_BASE = int(os.environ.get("KURZ_CLUSTER_BASE_PORT", "18000"))


def redirect_args(args, codes):
    """wrk/redirect.lua's arguments: the codes file, and browser headers if asked."""
    return [str(codes), "GET", "browser"] if args.browser_headers else [str(codes)]


def sh(*cmd, env=None, check=True, capture=False):
    return subprocess.run(cmd, env=env, check=check, text=True,
                          stdout=subprocess.PIPE if capture else None)


def children(pid):
    """pid and every descendant, from /proc."""
    parent = {}
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parent[int(entry.name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                pass
    tree, frontier = {pid}, [pid]
    while frontier:
        p = frontier.pop()
        for child, ppid in parent.items():
            if ppid == p and child not in tree:
                tree.add(child)
                frontier.append(child)
    return tree


def cpu_seconds(pids):
    """CPU seconds every process of pids has used, with what its reaped
    children used (cutime, cstime)."""
    total = 0
    for pid in pids:
        try:
            fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        except (OSError, IndexError, ValueError):
            pass
    return total / TICK


def role_cpu(roles):
    """CPU seconds used so far by each role's process trees, found afresh:
    a process started since the last call (a database backend for a pool
    that grew) counts whole, and one that exited counts through its
    parent's reaped-children time."""
    return {role: cpu_seconds(set().union(*(children(p) for p in pids)))
            for role, pids in roles.items()}


def memory_mib(pids):
    """(PSS summed over the processes, the largest single process's peak RSS).

    PSS splits shared pages between the processes that map them, so a
    multi-process server (PostgreSQL, nginx) is not counted once per worker.
    """
    pss = peak = 0
    for pid in pids:
        try:
            rollup = pathlib.Path(f"/proc/{pid}/smaps_rollup").read_text()
            pss += int(re.search(r"^Pss:\s+(\d+)", rollup, re.M).group(1))
            status = pathlib.Path(f"/proc/{pid}/status").read_text()
            peak = max(peak, int(re.search(r"VmHWM:\s+(\d+)", status).group(1)))
        except (OSError, AttributeError):
            pass
    return pss / 1024, peak / 1024


def wait_ready(url, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"not ready: {url}")


def scrape(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


def redirects_served(metrics_text):
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith("kurz_http_requests_total{") and 'route="/{code}"' in line \
                and 'method="GET"' in line and 'status="3xx"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def run_wrk(url, conns, duration, script, args):
    cmd = ["wrk", f"-t{min(2, conns)}", f"-c{conns}", f"-d{duration}s", "--timeout", "5s",
           "-s", str(WRK / script), url, "--", *args]
    out = subprocess.run(cmd, check=True, text=True, stdout=subprocess.PIPE).stdout
    line = next(l for l in out.splitlines() if l.startswith("RESULT "))
    return {k: int(v) for k, v in (kv.split("=") for kv in line.split()[1:])}


def measure(name, url, conns, duration, script, args, roles, probe=None):
    """roles: {"kurz": [pids], ...}; CPU is summed over each role's process trees.
    probe: a `visibility.Probe` to run beside wrk (redirect rows)."""
    before = role_cpu(roles)
    started = time.time()
    if probe:
        with probe:
            r = run_wrk(url, conns, duration, script, args)
    else:
        r = run_wrk(url, conns, duration, script, args)
    wall = time.time() - started
    after = role_cpu(roles)
    trees = {role: set().union(*(children(p) for p in pids)) for role, pids in roles.items()}
    cpu = {role: (after[role] - before[role]) / wall for role in roles}
    rss = {role: memory_mib(t) for role, t in trees.items()}
    errors = r["connect_err"] + r["read_err"] + r["write_err"] + r["timeout_err"] + r["status_err"]
    row = {
        "workload": name, "conns": conns,
        "rps": r["requests"] / (r["duration_us"] / 1e6),
        "p50_ms": r["p50_us"] / 1000, "p95_ms": r["p95_us"] / 1000, "p99_ms": r["p99_us"] / 1000,
        "requests": r["requests"], "errors": errors,
        "error_pct": 100.0 * errors / max(1, r["requests"]),
        "cpu": cpu, "rss": rss,
    }
    if probe:
        row["visibility"] = probe.summary()
    print(f"  {name:9} c={conns:<4} {row['rps']:>9.0f} req/s  p50 {row['p50_ms']:.2f}  "
          f"p95 {row['p95_ms']:.2f}  p99 {row['p99_ms']:.2f} ms  err {row['error_pct']:.2f}%  "
          + "  ".join(f"{k} {v:.2f}cpu/{rss[k][0]:.0f}MiB pss/{rss[k][1]:.0f}MiB peak" for k, v in cpu.items()), flush=True)
    if probe:
        print(f"            event visible after: {row['visibility']}", flush=True)
    return row


@functools.cache
def active_links():
    """(short code, id) of every active seed link, read once."""
    import csv
    with open(SEED / "urls.csv", newline="") as f:
        return [(r["short_code"], int(r["id"])) for r in csv.DictReader(f) if r["is_active"].lower() == "true"]


def active_codes():
    """The codes wrk draws from: every active seed link but the probe's."""
    codes = [code for code, _ in active_links()[:-1]]
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "codes.txt"
    path.write_text("\n".join(codes) + "\n")
    return path


def probe(url):
    """A visibility probe on `url` for the active seed link wrk never draws."""
    code, url_id = active_links()[-1]
    return visibility.Probe(url, code, url_id)


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=60)


def bench_baseline(args, codes, rows):
    proc = subprocess.Popen([str(BASELINE), "127.0.0.1:19000", str(codes)])
    try:
        time.sleep(0.5)
        run_wrk("http://127.0.0.1:19000", 50, 2, "redirect.lua", redirect_args(args, codes))
        for c in args.conns:
            rows.append(measure("baseline", "http://127.0.0.1:19000", c, args.duration,
                                "redirect.lua", redirect_args(args, codes), {"server": [proc.pid]}))
    finally:
        stop(proc)


def bench_sqlite(args, codes, rows, accounting, name="sqlite", extra_env=None,
                 redirects=True, extras=()):
    """Redirect rows (unless `redirects` is false), then the `extras`
    (sqlite-reads, sqlite-creates) on the same process and file."""
    tmp = tempfile.mkdtemp(prefix="kurz-bench-")
    env = dict(os.environ, DATABASE_URL=f"sqlite:{tmp}/kurz.db", KURZ_LOG="warn",
               KURZ_BIND="127.0.0.1:19001", **(extra_env or {}))
    sh(str(KURZ), "import", "--users", str(SEED / "users.csv"), "--urls", str(SEED / "urls.csv"),
       "--events", str(SEED / "events.csv"), env=env, capture=True)
    proc = subprocess.Popen([str(KURZ), "serve"], env=env, stdout=subprocess.DEVNULL)
    try:
        wait_ready("http://127.0.0.1:19001/health/ready")
        if redirects:
            run_wrk("http://127.0.0.1:19001", 50, 2, "redirect.lua", redirect_args(args, codes))
            for c in args.conns:
                rows.append(measure(name, "http://127.0.0.1:19001", c, args.duration,
                                    "redirect.lua", redirect_args(args, codes), {"kurz": [proc.pid]},
                                    probe("http://127.0.0.1:19001")))
        # Creations last: they grow the seed users' lists.
        for extra, script, script_args in (("sqlite-reads", "path.lua", ["/users/7"]),
                                           ("sqlite-creates", "create.lua", ["400"])):
            if extra in extras:
                for c in args.conns:
                    rows.append(measure(extra, "http://127.0.0.1:19001", c, args.duration,
                                        script, script_args, {"kurz": [proc.pid]}))
        served = None if extra_env else redirects_served(scrape("http://127.0.0.1:19001/metrics"))
    finally:
        code = stop(proc)
    db = sqlite3.connect(f"{tmp}/kurz.db")
    stored = db.execute("SELECT count(*) FROM events WHERE event_type = 'redirect'").fetchone()[0]
    if served is not None:
        accounting.append({"service": "sqlite replica", "served": served, "stored": stored, "exit": code})


def cluster_env():
    env = {}
    for line in (ROOT / "loadtest" / ".cluster" / "env").read_text().splitlines():
        k, v = line.split("=", 1)
        env[k] = v
    return env


def pid_of(name):
    """A cluster process's pid: nginx, redis and the fleet supervisor in
    .cluster/pids, the replicas (started by kurz-fleet) beside their logs."""
    state = ROOT / "loadtest" / ".cluster"
    path = state / "pids" / f"{name}.pid"
    if not path.exists():
        path = state / "logs" / f"{name}.pid"
    return int(path.read_text().strip())


def bench_cluster(args, codes, rows, accounting, workloads, list_results):
    sh(str(ROOT / "loadtest" / "cluster"), "up", "--replicas", "2", "--bench", "--seed", str(SEED))
    try:
        env = cluster_env()
        replica1 = f"http://127.0.0.1:{CLUSTER_BASE + 101}"
        nginx = f"http://127.0.0.1:{env['HTTP_PORT']}"
        pg_pid = int((ROOT / "loadtest" / ".cluster" / "pg" / "data" / "postmaster.pid").read_text().split()[0])
        replicas = [pid_of("replica-1"), pid_of("replica-2")]
        roles = {"kurz": replicas, "nginx": [pid_of("nginx")], "postgres": [pg_pid], "redis": [pid_of("redis")]}
        run_wrk(nginx, 50, 3, "redirect.lua", redirect_args(args, codes))
        if "postgres" in workloads:
            for c in args.conns:
                rows.append(measure("postgres", replica1, c, args.duration, "redirect.lua", redirect_args(args, codes),
                                    {"kurz": [replicas[0]], "postgres": [pg_pid], "redis": [pid_of("redis")]},
                                    probe(replica1)))
        if "reads" in workloads:
            for c in args.conns:
                rows.append(measure("reads", replica1, c, args.duration, "path.lua", ["/users/7"],
                                    {"kurz": [replicas[0]], "postgres": [pg_pid]}))
        if "nginx" in workloads:
            for c in args.conns:
                rows.append(measure("nginx", nginx, c, args.duration, "redirect.lua", redirect_args(args, codes), roles))
        if "mixed" in workloads:
            for c in args.conns:
                rows.append(measure("mixed", nginx, c, args.duration, "mixed.lua",
                                    [str(codes), "400", "2000"], roles))
        if "paced" in workloads:
            for c in args.conns:
                rows.append(measure("paced", nginx, c, args.duration, "mixed.lua",
                                    [str(codes), "400", "2000", "50"], roles))
        if "lists" in workloads:
            list_results.extend(lists.bench(measure, replica1, env["PG_PORT"],
                                            {"kurz": [replicas[0]], "postgres": [pg_pid]}, args.duration))
        if "seed" in workloads:  # after every read workload: it creates links
            list_results.append({"seed": seed.run(nginx, roles, role_cpu)})
        if "creates" in workloads:  # last: it creates the most links
            for c in args.conns:
                rows.append(measure("creates", replica1, c, args.duration, "create.lua", ["400"],
                                    {"kurz": [replicas[0]], "postgres": [pg_pid]}))
        served = sum(redirects_served(scrape(f"http://127.0.0.1:{CLUSTER_BASE + 100 + i}/metrics")) for i in (1, 2))
        # SIGTERM to the supervisor stops every replica gracefully (each
        # writes its whole event queue) and then exits itself.
        fleet = pid_of("fleet")
        os.kill(fleet, signal.SIGTERM)
        deadline = time.time() + 90
        while time.time() < deadline and pathlib.Path(f"/proc/{fleet}").exists():
            time.sleep(0.1)
        out = sh("psql", "-h", "127.0.0.1", "-p", env["PG_PORT"], "-U", "postgres", "-d", "kurz", "-tAc",
                 "SELECT count(*) FROM events WHERE event_type = 'redirect'", capture=True).stdout
        accounting.append({"service": "cluster (2 replicas)", "served": served, "stored": int(out.strip()), "exit": 0})
    finally:
        sh(str(ROOT / "loadtest" / "cluster"), "down", check=False)


# Rows whose requests are not the baseline's 302, so no ratio to it.
UNLIKE_BASELINE = ("mixed", "paced", "reads", "creates", "sqlite-reads", "sqlite-creates")


def table(rows, accounting, args):
    base = {r["conns"]: r for r in rows if r["workload"] == "baseline"}
    lines = ["| workload | conns | req/s | × baseline | p50 ms | p95 ms | p99 ms | p99 × baseline | errors | CPU cores by process | memory MiB: PSS (peak RSS of one process) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in rows:
        b = base.get(r["conns"])
        ratio = f"{r['rps'] / b['rps']:.2f}" if b and r["workload"] not in UNLIKE_BASELINE else "–"
        p99 = f"{r['p99_ms'] / b['p99_ms']:.2f}" if b and r["workload"] not in UNLIKE_BASELINE and b["p99_ms"] else "–"
        cpu = ", ".join(f"{k} {v:.2f}" for k, v in r["cpu"].items())
        rss = ", ".join(f"{k} {v[0]:.0f} ({v[1]:.0f})" for k, v in r["rss"].items())
        lines.append(f"| {r['workload']} | {r['conns']} | {r['rps']:,.0f} | {ratio} | {r['p50_ms']:.2f} | "
                     f"{r['p95_ms']:.2f} | {r['p99_ms']:.2f} | {p99} | {r['errors']} ({r['error_pct']:.2f}%) | {cpu} | {rss} |")
    lines += ["", "| service | redirects served | redirect events stored | exit code |", "|---|---:|---:|---:|"]
    for a in accounting:
        lines.append(f"| {a['service']} | {a['served']:,} | {a['stored']:,} | {a['exit']} |")
    probed = [r for r in rows if "visibility" in r]
    if probed:
        lines += ["", "A redirect's event in GET /events, while the redirect rows ran (loadtest/visibility.py):",
                  "", visibility.table(probed)]
    header = (f"Run {time.strftime('%Y-%m-%d %H:%M:%S')} on {os.cpu_count()} cores; "
              f"wrk -t2, {args.duration}s per run, 5 s request timeout.\n\n")
    return header + "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--conns", default="50,200,500")
    parser.add_argument("--workloads", default="baseline,sqlite,sqlite-reads,sqlite-creates,postgres,reads,nginx,mixed,paced,lists,seed,creates")
    parser.add_argument("--browser-headers", action="store_true",
                        help="redirects carry browsers' user agents and referrers (wrk/redirect.lua)")
    args = parser.parse_args()
    args.conns = [int(c) for c in args.conns.split(",")]
    workloads = set(args.workloads.split(","))
    if "KURZ_BIN" in os.environ:
        sh("cargo", "build", "--release", "--quiet", "--example", "baseline")
    else:
        sh("cargo", "build", "--release", "--quiet", "--bin", "kurz", "--example", "baseline")
    codes = active_codes()
    rows, accounting = [], []
    if "baseline" in workloads:
        bench_baseline(args, codes, rows)
    sqlite_extras = [w for w in ("sqlite-reads", "sqlite-creates") if w in workloads]
    if "sqlite" in workloads or sqlite_extras:
        bench_sqlite(args, codes, rows, accounting, redirects="sqlite" in workloads, extras=sqlite_extras)
    if "nometrics" in workloads:
        bench_sqlite(args, codes, rows, accounting, "nometrics", {"KURZ_METRICS": "false"})
    list_results = []
    if workloads & {"postgres", "reads", "nginx", "mixed", "paced", "lists", "seed", "creates"}:
        bench_cluster(args, codes, rows, accounting, workloads, list_results)
    report = table(rows, accounting, args)
    seed_results = [r["seed"] for r in list_results if "seed" in r]
    list_results = [r for r in list_results if "seed" not in r]
    if list_results:
        report += "\nWhole lists of 1,000 links from one replica against pgbench of the same SELECT:\n\n"
        report += lists.table(list_results) + "\n"
    for result in seed_results:
        report += "\nThe seed system's stress workload (k6, 50 -> 500 users) through nginx + 2 replicas:\n\n"
        report += seed.table(result) + "\n"
    (RESULTS / "latest.md").write_text(report)
    (RESULTS / "latest.json").write_text(json.dumps({"rows": rows, "accounting": accounting,
                                                     "lists": list_results}, indent=1))
    print()
    print(report)


if __name__ == "__main__":
    main()
