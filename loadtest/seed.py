"""The `seed` workload of loadtest/bench.py: the seed system's own stress
scenario (loadtest/k6/seed-stress.js, ramp 50 -> 500 users, 130 s) through
nginx + 2 replicas, with the CPU each part of the system used, k6 included,
so the report says where the time goes.

The seed system did 754 req/s with a p95 of 1,118 ms on this machine kind.
"""

import json
import resource
import subprocess
import tempfile
import time
from pathlib import Path

K6 = Path(__file__).resolve().parent / "k6" / "seed-stress.js"
SEED_SYSTEM_RPS = 754


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(nginx, roles, role_cpu, users=400):
    """roles: {"kurz": [pids], ...}; role_cpu(roles): CPU seconds by role so
    far (bench.role_cpu); returns one result dict."""
    before = role_cpu(roles)
    k6_before = children_cpu()
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        summary = Path(tmp) / "summary.json"
        subprocess.run(["k6", "run", "--quiet", "--no-color", "--summary-export", str(summary),
                        "-e", f"BASE_URL={nginx}", "-e", f"USERS={users}", str(K6)],
                       check=False, stdout=subprocess.DEVNULL)
        metrics = json.loads(summary.read_text())["metrics"]
    wall = time.time() - started
    after = role_cpu(roles)
    cpu = {role: (after[role] - before[role]) / wall for role in roles}
    cpu["k6"] = (children_cpu() - k6_before) / wall
    duration = metrics["http_req_duration"]
    result = {
        "rps": metrics["http_reqs"]["rate"],
        "requests": metrics["http_reqs"]["count"],
        "failed": metrics["http_req_failed"].get("passes", 0),
        "p50_ms": duration["med"], "p95_ms": duration["p(95)"], "p99_ms": duration["p(99)"],
        "cpu": cpu,
    }
    print(f"  seed      {result['rps']:>9.0f} req/s  p95 {result['p95_ms']:.1f} ms  failed {result['failed']}  "
          + "  ".join(f"{k} {v:.2f}cpu" for k, v in cpu.items()), flush=True)
    return result


def table(result):
    cpu = ", ".join(f"{k} {v:.2f}" for k, v in result["cpu"].items())
    return "\n".join([
        "| req/s | × seed system (754) | p50 ms | p95 ms | p99 ms | failed | CPU cores by process |",
        "|---:|---:|---:|---:|---:|---:|---|",
        f"| {result['rps']:,.0f} | {result['rps'] / SEED_SYSTEM_RPS:.2f} | {result['p50_ms']:.1f} | "
        f"{result['p95_ms']:.1f} | {result['p99_ms']:.1f} | {result['failed']} of {result['requests']:,} | {cpu} |",
    ])
