-- Cache-hit redirects: GET /<code>, codes drawn uniformly from a file.
-- wrk -s loadtest/wrk/redirect.lua URL -- codes.txt [GET|HEAD] [browser]
-- With HEAD: the same path without the redirect event. With "browser":
-- each request carries one of a few real browsers' (and a bot's) user
-- agents and a referrer, as real traffic does, so the analytics path
-- (user-agent reading, referrer host, visitor hash) is exercised.
package.path = debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua;" .. package.path
local report = require("report")
local codes
local method = "GET"
local browser = false

local agents = {
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
}
local referrers = { "https://news.example/story/1", "https://t.co/abc", "https://www.search.example/?q=kurz" }

function init(args)
  codes = report.load_lines(args[1] or "codes.txt")
  method = args[2] or "GET"
  browser = args[3] == "browser"
  report.seed_random()
end

function request()
  local path = "/" .. codes[math.random(#codes)]
  if not browser then
    return wrk.format(method, path)
  end
  local headers = {
    ["User-Agent"] = agents[math.random(#agents)],
    ["Referer"] = referrers[math.random(#referrers)],
  }
  return wrk.format(method, path, headers)
end

done = report.done
