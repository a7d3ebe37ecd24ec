"""How long a redirect's event takes to show in GET /events while the
redirect rows saturate the replica (target: within 1 s).

One link of the seed data is kept out of the codes wrk draws from (see
`bench.active_codes`), so every event of that link is the probe's own.
While a row runs, a thread follows the link about four times a second and
then polls `GET /events?url_id=<its id>&after_id=<last seen>` every 10 ms
until the new event is there: the lag is from sending the redirect to the
first answer that holds its event. A probe whose event has not shown
after 5 s counts as 5 s (and as missing).
"""

import http.client
import json
import threading
import time
import urllib.parse

POLL_S = 0.01
EVERY_S = 0.25
GIVE_UP_S = 5.0


class Probe:
    def __init__(self, url, code, url_id):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.code, self.url_id = code, url_id
        self.lags, self.missing, self.failures = [], 0, 0
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=GIVE_UP_S + 5)
        return False

    def _connect(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=10)

    def _get(self, conn, path):
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()

    def _newest(self, conn, after):
        """The largest id among the link's first 100 events after `after`
        (`after` when there are none)."""
        status, body = self._get(conn, f"/events?url_id={self.url_id}&after_id={after}&per_page=100")
        if status != 200:
            raise ValueError(f"GET /events answered {status}")
        return max((e["id"] for e in json.loads(body)), default=after)

    def _last_id(self, conn):
        """The largest id among the link's events now."""
        last = 0
        while (newest := self._newest(conn, last)) > last:
            last = newest
        return last

    def _run(self):
        conn = self._connect()
        try:
            last = self._last_id(conn)
        except (OSError, ValueError, http.client.HTTPException):
            self.failures += 1
            return
        while not self._stop.is_set():
            try:
                last = self._probe(conn, last)
            except (OSError, ValueError, http.client.HTTPException):
                self.failures += 1
                conn.close()
                conn = self._connect()
            self._stop.wait(EVERY_S)
        conn.close()

    def _probe(self, conn, last):
        """One redirect, then polls until its event shows; the new last id."""
        sent = time.monotonic()
        status, _ = self._get(conn, f"/{self.code}")
        if status != 302:
            raise ValueError(f"the probe's redirect answered {status}")
        while True:
            newest = self._newest(conn, last)
            if newest > last:
                self.lags.append(time.monotonic() - sent)
                return newest
            if time.monotonic() - sent > GIVE_UP_S:
                self.lags.append(GIVE_UP_S)
                self.missing += 1
                return last
            time.sleep(POLL_S)

    def summary(self):
        lags = sorted(self.lags)
        if not lags:
            return {"probes": 0, "missing": self.missing, "failures": self.failures}
        return {"probes": len(lags), "missing": self.missing, "failures": self.failures,
                "p50_ms": lags[len(lags) // 2] * 1000, "max_ms": lags[-1] * 1000}


def table(results):
    lines = ["| service | conns | probes | lag p50 ms | lag max ms | not shown within 5 s | probe errors |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        s = r["visibility"]
        p50 = f"{s['p50_ms']:.0f}" if "p50_ms" in s else "–"
        worst = f"{s['max_ms']:.0f}" if "max_ms" in s else "–"
        lines.append(f"| {r['workload']} | {r['conns']} | {s['probes']} | {p50} | {worst} | "
                     f"{s['missing']} | {s['failures']} |")
    return "\n".join(lines)
