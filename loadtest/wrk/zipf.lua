-- Redirects over a generated store (loadtest/scale): link i has the code
-- "k<i>", 1 <= i <= N, so no code list has to fit in memory.
-- wrk -s loadtest/wrk/zipf.lua URL -- N zipf|uniform|miss [PACE_MS]
--   zipf     rank r = floor(N^u) (Zipf, s = 1), mapped to a link by a fixed
--            permutation so popular links are spread over the table
--   uniform  every link equally likely: nearly every request misses the
--            replica's cache and reads the store
--   miss     codes that no link has ("m<i>"): the 404 path
-- PACE_MS: each connection waits that long after every answer
-- (report.pace); without it, every connection sends as fast as it can.
package.path = debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua;" .. package.path
local report = require("report")
local n, mode
local P = 1000003 -- prime, coprime to every N we use; N * P stays below 2^53

function init(args)
  n = tonumber(args[1] or "10000000")
  mode = args[2] or "zipf"
  report.pace(tonumber(args[3] or "0"))
  report.seed_random()
end

local function link(rank)
  return (rank * P) % n + 1
end

function request()
  if mode == "miss" then
    return wrk.format("GET", "/m" .. math.random(n))
  elseif mode == "uniform" then
    return wrk.format("GET", "/k" .. math.random(n))
  end
  local rank = math.floor(n ^ math.random())
  return wrk.format("GET", "/k" .. link(rank))
end

done = report.done
