-- wrk script: walks a file of request targets (one path?query per line), round robin.
-- Arguments after `--`: METHOD TARGETS_FILE [BODY_FILE] [CONTENT_TYPE]
local targets = {}
local method = "GET"
local body = nil
local headers = {}
local index = 0

function init(args)
  method = args[1]
  for line in io.lines(args[2]) do
    targets[#targets + 1] = line
  end
  if args[3] and args[3] ~= "" then
    local file = io.open(args[3], "rb")
    body = file:read("*a")
    file:close()
  end
  if args[4] and args[4] ~= "" then
    headers["Content-Type"] = args[4]
  end
  index = math.random(#targets)
end

function request()
  index = index % #targets + 1
  return wrk.format(method, targets[index], headers, body)
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "status_errors": %d, ' ..
    '"socket_errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
