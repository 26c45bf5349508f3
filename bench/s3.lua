-- wrk script for bench/s3.py: walks a file of request targets (one path?query per line).
-- Arguments after `--`: METHOD TARGETS_FILE THREADS [BODY_FILE]
-- Unlike walk.lua (whose threads all start at the same index, since LuaJIT seeds every thread's
-- math.random alike), thread i takes targets i, i + THREADS, i + 2 * THREADS, ... so no two
-- threads PUT the same key at the same time.
local next_id = 0
local targets = {}
local method = "GET"
local body = nil
local index = 0
local stride = 1

function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
end

function init(args)
  method = args[1]
  for line in io.lines(args[2]) do
    targets[#targets + 1] = line
  end
  stride = tonumber(args[3])
  if args[4] and args[4] ~= "" then
    local file = io.open(args[4], "rb")
    body = file:read("*a")
    file:close()
  end
  index = thread_id % #targets
end

function request()
  local target = targets[index + 1]
  index = (index + stride) % #targets
  return wrk.format(method, target, nil, body)
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
