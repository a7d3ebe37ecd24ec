-- The hackathon's mixed traffic: 80% redirects over a Zipf-skewed set of
-- seed codes, 10% GET /urls/{id}, 5% POST /urls, 5% filtered lists.
-- wrk -s loadtest/wrk/mixed.lua URL -- codes.txt USERS URLS [THINK_MS]
-- With THINK_MS each connection pauses that long between requests, like a
-- user; without it every connection sends as fast as it can (saturation).
package.path = debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua;" .. package.path
local report = require("report")
local codes, cdf, users, urls
local created = 0
local think_ms = 0

function init(args)
  codes = report.load_lines(args[1] or "codes.txt")
  users = tonumber(args[2] or "400")
  urls = tonumber(args[3] or "2000")
  think_ms = tonumber(args[4] or "0")
  report.seed_random()
  -- Zipf(s = 1.1): the first codes get most of the traffic.
  cdf = {}
  local total = 0
  for i = 1, #codes do
    total = total + 1 / (i ^ 1.1)
    cdf[i] = total
  end
  for i = 1, #codes do cdf[i] = cdf[i] / total end
end

local function zipf_code()
  local r, lo, hi = math.random(), 1, #cdf
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < r then lo = mid + 1 else hi = mid end
  end
  return codes[lo]
end

function request()
  local r = math.random()
  if r < 0.80 then
    return wrk.format("GET", "/" .. zipf_code())
  elseif r < 0.90 then
    return wrk.format("GET", "/urls/" .. math.random(urls))
  elseif r < 0.95 then
    created = created + 1
    local body = string.format('{"user_id":%d,"original_url":"https://example.com/load/%d/%d","title":"load"}',
      math.random(users), math.random(1000000), created)
    return wrk.format("POST", "/urls", { ["Content-Type"] = "application/json" }, body)
  elseif r < 0.975 then
    return wrk.format("GET", "/urls?user_id=" .. math.random(users) .. "&per_page=20")
  else
    return wrk.format("GET", "/events?url_id=" .. math.random(urls) .. "&per_page=20")
  end
end

function delay()
  return think_ms
end

done = report.done
