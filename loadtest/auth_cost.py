#!/usr/bin/env python3
"""What an API key costs a request, in instructions (callgrind counts them
the same however busy the machine is, which wall-clock req/s here is not).

For each mode (KURZ_AUTH=off, and keys with a user's key on reads) it runs
the release binary under `valgrind --tool=callgrind`, makes 500 and then,
in a fresh server, 1 500 keep-alive GETs, and divides the difference by
1 000, which removes start-up and set-up. Redirects never authenticate and
are sent without a key. Needs valgrind and `cargo build --release`.

    python3 loadtest/auth_cost.py
"""
import http.client, json, os, re, signal, subprocess, tempfile, time
BIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "release", "kurz")
ADMIN = "bench-admin-key-0123456789"

def run(mode, n, path_kind):
    d = tempfile.mkdtemp()
    out = f"{d}/cg.out"
    env = dict(os.environ, KURZ_AUTH=mode, KURZ_ADMIN_KEY=ADMIN, KURZ_RATE_LIMIT_REDIRECTS="0",
               KURZ_RATE_LIMIT_WRITES="0", DATABASE_URL=f"sqlite:{d}/k.db", KURZ_LOG="warn",
               KURZ_BIND="127.0.0.1:19393", KURZ_METRICS="true")
    p = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", BIN],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            c = http.client.HTTPConnection("127.0.0.1", 19393, timeout=5); c.request("GET", "/health"); c.getresponse().read(); break
        except Exception:
            time.sleep(0.1)
    c = http.client.HTTPConnection("127.0.0.1", 19393, timeout=30)
    def req(method, path, body=None, key=ADMIN):
        h = {"Authorization": f"Bearer {key}"} if key else {}
        if body is not None: h["Content-Type"] = "application/json"
        c.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
        r = c.getresponse(); data = r.read(); return r.status, data
    _, u = req("POST", "/users", {"username": "a", "email": "a@b.co"}); uid = json.loads(u)["id"]
    _, k = req("POST", f"/users/{uid}/keys"); key = json.loads(k).get("key") if mode == "keys" else None
    _, l = req("POST", "/urls", {"user_id": uid, "original_url": "https://e.com/x"}); l = json.loads(l)
    path = f"/urls/{l['id']}" if path_kind == "read" else f"/{l['short_code']}"
    for _ in range(n):
        s, _ = req("GET", path, key=key if (mode == "keys" and path_kind == "read") else None)
        assert s in (200, 302), s
    p.send_signal(signal.SIGTERM); p.wait(timeout=120)
    text = open(out).read()
    m = re.search(r"^summary:\s+(\d+)", text, re.M) or re.search(r"^totals:\s+(\d+)", text, re.M)
    return int(m.group(1))

for kind in ["read", "redirect"]:
    res = {}
    for mode in ["off", "keys"]:
        a = run(mode, 500, kind); b = run(mode, 1500, kind)
        res[mode] = (b - a) / 1000
        print(f"{kind} {mode}: {res[mode]:.0f} instructions per request", flush=True)
    print(f"{kind}: keys/off = {res['keys']/res['off']:.4f}")
