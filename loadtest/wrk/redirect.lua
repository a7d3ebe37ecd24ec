-- Cache-hit redirects: GET /<code>, codes drawn uniformly from a file.
-- wrk -s loadtest/wrk/redirect.lua URL -- codes.txt [HEAD]
-- With HEAD: the same path without the redirect event.
package.path = debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua;" .. package.path
local report = require("report")
local codes
local method = "GET"

function init(args)
  codes = report.load_lines(args[1] or "codes.txt")
  method = args[2] or "GET"
  report.seed_random()
end

function request()
  return wrk.format(method, "/" .. codes[math.random(#codes)])
end

done = report.done
