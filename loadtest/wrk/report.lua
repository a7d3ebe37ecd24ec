-- Shared by the wrk scripts: one machine-readable line with the numbers the
-- benchmark runner needs (wrk's own summary has no p95).
local report = {}

function report.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p95_us=%d p99_us=%d max_us=%d " ..
    "connect_err=%d read_err=%d write_err=%d timeout_err=%d status_err=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, e.status))
end

function report.load_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if #line > 0 then lines[#lines + 1] = line end
  end
  return lines
end

function report.seed_random()
  -- Each wrk thread has its own Lua state: give each its own sequence.
  local addr = tostring({}):match("0x(%x+)") or "0"
  math.randomseed(os.time() + tonumber(addr:sub(-6), 16))
end

function report.pace(ms)
  -- Each connection waits `ms` after every answer before its next request,
  -- so the rate stays under what the cores can serve and the latency is the
  -- service's, not a queue's. Defined only when pacing: once a script has
  -- a global `delay`, wrk puts every request behind a timer, which would
  -- slow the unpaced runs.
  if ms and ms > 0 then
    delay = function()
      return ms
    end
  end
end

return report
