-- wrk script for POST /ai/chat (driven by scripts/bench/load.py; not meant to be run by hand).
--
--   wrk -t2 -c32 -d20s --timeout 30s -s scripts/bench/chat.lua https://127.0.0.1:PORT/ai/chat -- SESSIONS THREADS MESSAGES
--
-- SESSIONS is a file written by the Python driver, one pre-created conversation per line:
--   <Cookie header value>\t<X-CSRFToken value or empty>
-- Each wrk thread has its own Lua state and takes its own slice of the lines (thread i of t takes
-- lines i, i+t, i+2t, ...), so no two threads share a session. wrk tells a script which thread it
-- runs in but not which connection, so inside a thread the sessions are used round-robin, one per
-- request: with as many sessions as connections each conversation carries about one turn at a time.
-- MESSAGES is a file with the message mix, one per line (``_common.MESSAGES``: FAQ, small talk,
-- analytics); the JSON body cycles through it. With a fourth argument "unique" every message gets a running number appended, so no two requests carry the same
-- text (nothing a cache keyed by text can reuse from one turn to the next).
-- At the end one line "WRK_JSON {...}" carries the figures the driver parses.

local MESSAGES = {}

local threads = {}
local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local sessions = {}
local bodies = {}
local next_session = 1
local next_body = 1
local unique = false
local sent = 0
statuses = {}
scenarios = {}

local function read_lines(path, what)
  local file = assert(io.open(path, "r"), "cannot open the " .. what .. " file " .. tostring(path))
  local lines = {}
  for line in file:lines() do
    if #line > 0 then table.insert(lines, line) end
  end
  file:close()
  return lines
end

function init(args)
  local lines = read_lines(args[1], "sessions")
  MESSAGES = read_lines(args[3], "messages")
  -- wrk calls setup() and then init() thread by thread, so the thread count comes as an argument.
  local nthreads = tonumber(args[2]) or 1
  for i = index + 1, #lines, nthreads do
    local cookie, csrf = lines[i]:match("^([^\t]*)\t?(.*)$")
    local headers = {["Content-Type"] = "application/json", ["Cookie"] = cookie}
    if csrf and #csrf > 0 then headers["X-CSRFToken"] = csrf end
    table.insert(sessions, headers)
  end
  assert(#sessions > 0, "no session for thread " .. tostring(index))
  for i, message in ipairs(MESSAGES) do
    bodies[i] = '{"message": "' .. message .. '"}'
  end
  next_body = (index * 5) % #bodies + 1
  unique = args[4] == "unique"
end

function request()
  local headers = sessions[next_session]
  next_session = next_session % #sessions + 1
  local body = bodies[next_body]
  if unique then
    sent = sent + 1
    body = '{"message": "' .. MESSAGES[next_body] .. " " .. tostring(index * 1000000 + sent) .. '"}'
  end
  next_body = next_body % #bodies + 1
  return wrk.format("POST", wrk.path, headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  local scenario = body and body:match('"scenario"%s*:%s*"(%u+)"')
  if scenario then scenarios[scenario] = (scenarios[scenario] or 0) + 1 end
end

local function merge(into, from)
  for key, value in pairs(from or {}) do
    into[tostring(key)] = (into[tostring(key)] or 0) + value
  end
end

local function to_json(map)
  local parts = {}
  for key, value in pairs(map) do
    table.insert(parts, string.format('"%s": %d', key, value))
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

function done(summary, latency, requests)
  local all_statuses, all_scenarios = {}, {}
  for _, thread in ipairs(threads) do
    merge(all_statuses, thread:get("statuses"))
    merge(all_scenarios, thread:get("scenarios"))
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"mean_us": %.1f, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"statuses": %s, "scenarios": %s}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean, e.connect, e.read, e.write, e.status, e.timeout,
    to_json(all_statuses), to_json(all_scenarios)))
end
