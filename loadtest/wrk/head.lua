-- The redirect path without its event: HEAD /<code>, codes drawn uniformly from a file.
-- wrk -s loadtest/wrk/head.lua URL -- codes.txt
package.path = debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua;" .. package.path
local report = require("report")
local codes

function init(args)
  codes = report.load_lines(args[1] or "codes.txt")
  report.seed_random()
end

function request()
  return wrk.format("HEAD", "/" .. codes[math.random(#codes)])
end

done = report.done
