-- Link creation alone: POST /urls for a random seed user, a new target
-- each time (every request is a committed transaction: the code, the link
-- and its `created` event).
-- wrk -s loadtest/wrk/create.lua URL -- [USERS]
package.path = debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua;" .. package.path
local report = require("report")
local users
local created = 0

function init(args)
  users = tonumber(args[1] or "400")
  report.seed_random()
end

function request()
  created = created + 1
  local body = string.format('{"user_id":%d,"original_url":"https://example.com/new/%d/%d","title":"new"}',
    math.random(users), math.random(1000000), created)
  return wrk.format("POST", "/urls", { ["Content-Type"] = "application/json" }, body)
end

done = report.done
