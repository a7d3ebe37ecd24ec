-- Keyset pages of one link's events over a generated store (loadtest/scale):
-- GET /events?url_id=<Zipf-chosen link>&after_id=<random id>&per_page=50.
-- wrk -s loadtest/wrk/events.lua URL -- N MAX_EVENT_ID [PACE_MS]
-- PACE_MS: each connection waits that long after every answer (report.pace).
package.path = debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua;" .. package.path
local report = require("report")
local n, max_id
local P = 1000003 -- the permutation of zipf.lua and the generator

function init(args)
  n = tonumber(args[1] or "10000000")
  max_id = tonumber(args[2] or "100000000")
  report.pace(tonumber(args[3] or "0"))
  report.seed_random()
end

function request()
  local link = (math.floor(n ^ math.random()) * P) % n + 1
  return wrk.format("GET", "/events?url_id=" .. link .. "&after_id=" .. math.random(max_id) .. "&per_page=50")
end

done = report.done
