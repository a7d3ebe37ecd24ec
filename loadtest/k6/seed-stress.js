// The seed system's own stress workload, written from its description so
// that kurz is measured on the traffic its users know. Each virtual user
// loops: GET /health, GET /urls?user_id=X (no paging: every link of the
// user), POST /urls, GET /urls/{id} twice, then sleeps 0.3 s. 50 users,
// ramped to 500, 130 s in all.
//
//   BASE_URL=http://127.0.0.1:18080 USERS=400 k6 run loadtest/k6/seed-stress.js
//
// USERS is how many user ids exist (1..USERS; the seed fixtures have 400).
import http from "k6/http";
import { check, sleep } from "k6";

const BASE = __ENV.BASE_URL || "http://127.0.0.1:18080";
const USERS = Number(__ENV.USERS || 400);
const JSON_HEADERS = { headers: { "Content-Type": "application/json" } };

export const options = {
  scenarios: {
    stress: {
      executor: "ramping-vus",
      startVUs: 50,
      stages: [
        { duration: "10s", target: 50 },
        { duration: "30s", target: 200 },
        { duration: "30s", target: 500 },
        { duration: "50s", target: 500 },
        { duration: "10s", target: 0 },
      ],
      gracefulRampDown: "5s",
    },
  },
  thresholds: {
    http_req_failed: ["rate<0.01"],
  },
  summaryTrendStats: ["avg", "med", "p(90)", "p(95)", "p(99)", "max"],
};

export default function () {
  const userId = 1 + Math.floor(Math.random() * USERS);
  check(http.get(`${BASE}/health`, { tags: { name: "GET /health" } }), {
    "health 200": (r) => r.status === 200,
  });
  check(http.get(`${BASE}/urls?user_id=${userId}`, { tags: { name: "GET /urls?user_id" } }), {
    "list 200": (r) => r.status === 200,
  });
  const created = http.post(
    `${BASE}/urls`,
    JSON.stringify({
      user_id: userId,
      original_url: `https://example.com/stress/${__VU}/${__ITER}`,
      title: "stress",
    }),
    Object.assign({ tags: { name: "POST /urls" } }, JSON_HEADERS),
  );
  check(created, { "create 201": (r) => r.status === 201 });
  if (created.status === 201) {
    const id = created.json("id");
    for (let i = 0; i < 2; i++) {
      check(http.get(`${BASE}/urls/${id}`, { tags: { name: "GET /urls/{id}" } }), {
        "get 200": (r) => r.status === 200,
      });
    }
  }
  sleep(0.3);
}
