"""The `lists` workload of loadtest/bench.py: a user's whole list of 1,000
links, streamed by one replica, against PostgreSQL serving the same SELECT
to pgbench at the same connection count (prepared statements, as sqlx
uses). At 1 connection it is also the stall check: without TCP_NODELAY a
kept-alive connection waits for the client's delayed ACK (40 ms) on every
multi-segment response, which shows as a p50 near 40 ms.
"""

import json
import pathlib
import subprocess
import tempfile
import urllib.request

LINKS = 1000
# What kurz runs for GET /urls?user_id=X without paging (src/store/urls.rs).
SQL = ("SELECT id, user_id, short_code, original_url, title, is_active, created_at, updated_at, "
       "expires_at, max_redirects FROM urls WHERE id > 0 AND user_id = {uid} "
       "ORDER BY user_id, id LIMIT 9223372036854775807 OFFSET 0;\n")


def post(base, path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def prepare(base):
    """A new user with LINKS links; returns the user id."""
    user = post(base, "/users", {"username": "lists-bench", "email": "lists-bench@example.com"})
    for i in range(LINKS):
        post(base, "/urls", {"user_id": user["id"], "original_url": f"https://example.com/list/{i}",
                             "title": f"link {i}"})
    return user["id"]


def pgbench(pg_port, conns, duration, uid):
    """tps, p50, p95 and p99 (ms) of the same SELECT through pgbench."""
    with tempfile.TemporaryDirectory() as tmp:
        script = pathlib.Path(tmp) / "list.sql"
        script.write_text(SQL.format(uid=uid))
        cmd = ["pgbench", "-n", "-M", "prepared", "-c", str(conns), "-j", str(min(conns, 2)),
               "-T", str(duration), "-f", str(script), "-l", "--log-prefix", f"{tmp}/log",
               "-h", "127.0.0.1", "-p", str(pg_port), "-U", "postgres", "kurz"]
        out = subprocess.run(cmd, check=True, text=True, capture_output=True).stdout
        tps = float(next(l for l in out.splitlines() if l.startswith("tps =")).split()[2])
        latencies = sorted(int(line.split()[2]) / 1000.0
                           for log in pathlib.Path(tmp).glob("log*") for line in log.read_text().splitlines())
    pick = lambda q: latencies[min(len(latencies) - 1, int(len(latencies) * q))]
    return {"rps": tps, "p50_ms": pick(0.5), "p95_ms": pick(0.95), "p99_ms": pick(0.99)}


def bench(measure, replica_url, pg_port, roles, duration, conns=(1, 16, 50)):
    uid = prepare(replica_url)
    path = f"/urls?user_id={uid}"
    results = []
    for c in conns:
        kurz = measure("list1000", replica_url, c, duration, "path.lua", [path], roles)
        pg = pgbench(pg_port, c, duration, uid)
        print(f"  pgbench   c={c:<4} {pg['rps']:>9.0f} tx/s   p50 {pg['p50_ms']:.2f}  p99 {pg['p99_ms']:.2f} ms",
              flush=True)
        results.append({"conns": c, "kurz": kurz, "pgbench": pg})
    return results


def table(results):
    lines = ["| conns | kurz lists/s | pgbench tx/s | ratio | kurz p50 / p99 ms | pgbench p50 / p99 ms | p99 ratio |",
             "|---:|---:|---:|---:|---|---|---:|"]
    for r in results:
        k, p = r["kurz"], r["pgbench"]
        lines.append(f"| {r['conns']} | {k['rps']:,.0f} | {p['rps']:,.0f} | {k['rps'] / p['rps']:.2f} | "
                     f"{k['p50_ms']:.2f} / {k['p99_ms']:.2f} | {p['p50_ms']:.2f} / {p['p99_ms']:.2f} | "
                     f"{k['p99_ms'] / p['p99_ms']:.2f} |")
    return "\n".join(lines)
