-- One fixed request path: GET <path>, e.g. a user's whole link list.
-- wrk -s loadtest/wrk/path.lua URL -- '/urls?user_id=7'
package.path = debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua;" .. package.path
local report = require("report")
local path

function init(args)
  path = args[1] or "/"
end

function request()
  return wrk.format("GET", path)
end

done = report.done
