// The hackathon's mixed scenario for k6 users (the numbers in
// docs/performance.md come from the wrk runner, which costs less CPU on the
// same two cores). Ramps 50 → 200 → 500 virtual users.
//
//   BASE_URL=http://127.0.0.1:18080 CODES=loadtest/results/codes.txt k6 run loadtest/k6/mixed.js
import http from "k6/http";
import { check } from "k6";
import { SharedArray } from "k6/data";

const BASE = __ENV.BASE_URL || "http://127.0.0.1:18080";
const USERS = Number(__ENV.USERS || 400);
const URLS = Number(__ENV.URLS || 2000);
const codes = new SharedArray("codes", () =>
  open(__ENV.CODES || "../results/codes.txt").split("\n").filter((c) => c.length > 0));
const cdf = (() => {
  let total = 0;
  const acc = codes.map((_, i) => (total += 1 / Math.pow(i + 1, 1.1)));
  return acc.map((v) => v / total);
})();

export const options = {
  scenarios: {
    ramp: {
      executor: "ramping-vus",
      stages: [
        { duration: "20s", target: 50 }, { duration: "30s", target: 50 },
        { duration: "20s", target: 200 }, { duration: "30s", target: 200 },
        { duration: "20s", target: 500 }, { duration: "30s", target: 500 },
      ],
    },
  },
  thresholds: {
    http_req_failed: ["rate<0.01"],
    http_req_duration: ["p(95)<50"],
  },
};

function zipfCode() {
  const r = Math.random();
  let lo = 0, hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid] < r) lo = mid + 1; else hi = mid;
  }
  return codes[lo];
}

const rand = (n) => 1 + Math.floor(Math.random() * n);

export default function () {
  const r = Math.random();
  if (r < 0.8) {
    const res = http.get(`${BASE}/${zipfCode()}`, { redirects: 0, tags: { name: "redirect" } });
    check(res, { "302": (x) => x.status === 302 });
  } else if (r < 0.9) {
    const res = http.get(`${BASE}/urls/${rand(URLS)}`, { tags: { name: "get url" } });
    check(res, { "200": (x) => x.status === 200 });
  } else if (r < 0.95) {
    const body = JSON.stringify({ user_id: rand(USERS), original_url: `https://example.com/k6/${rand(1e9)}` });
    const res = http.post(`${BASE}/urls`, body, { headers: { "Content-Type": "application/json" }, tags: { name: "create url" } });
    check(res, { "201": (x) => x.status === 201 });
  } else {
    const res = http.get(`${BASE}/urls?user_id=${rand(USERS)}&per_page=20`, { tags: { name: "list" } });
    check(res, { "200": (x) => x.status === 200 });
  }
}
