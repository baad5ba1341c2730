-- wrk script: POST the standard workload's post-login event (bench/workload/event_template.json)
-- with a random user id 1..10000 per request. Shared by actionhost's bench and bench/node_ref.
--
--   BENCH_EVENT_TEMPLATE=bench/workload/event_template.json BENCH_TOKEN=<token> \
--     wrk -t2 -c64 -d5s -s bench/post_event.lua http://127.0.0.1:8080
--
-- Environment:
--   BENCH_EVENT_TEMPLATE  path of the event template (default bench/workload/event_template.json,
--                         relative to the directory wrk is started from); USERID is replaced
--   BENCH_TOKEN           bearer token (default "bench"; node_ref accepts any)
--   BENCH_PATH            request path (default /triggers/post-login/execute)
--   BENCH_USERS           number of distinct user ids (default 10000)
--   BENCH_DELAY_MS        mean pause of each connection before every request, drawn from an
--                         exponential distribution (paced load: about connections x 1000 /
--                         BENCH_DELAY_MS requests/s, arriving at random as independent clients
--                         would; a fixed pause keeps the connections in step, so the load comes
--                         as one burst of every connection per pause instead)
--   BENCH_CHECK=1         also count the executions' "status" values and print them at the end
--                         (reads every response body: a little slower)

local template_path = os.getenv("BENCH_EVENT_TEMPLATE") or "bench/workload/event_template.json"
local token = os.getenv("BENCH_TOKEN") or "bench"
local path = os.getenv("BENCH_PATH") or "/triggers/post-login/execute"
local users = tonumber(os.getenv("BENCH_USERS") or "10000")
local check = os.getenv("BENCH_CHECK") == "1"
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")

local file = assert(io.open(template_path, "rb"), "cannot open BENCH_EVENT_TEMPLATE " .. template_path)
local template = file:read("*a")
file:close()

-- the template split around its USERID markers, so a request is one table.concat
local parts = {}
local from = 1
while true do
  local s, e = string.find(template, "USERID", from, true)
  if not s then break end
  parts[#parts + 1] = string.sub(template, from, s - 1)
  from = e + 1
end
local tail = string.sub(template, from)
assert(#parts > 0, "the event template has no USERID marker")

local headers = {
  ["Authorization"] = "Bearer " .. token,
  ["Content-Type"] = "application/json",
}

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_id", counter)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_id or 0))
  allowed, denied, failed, other = 0, 0, 0, 0
end

function request()
  local id = tostring(math.random(1, users))
  local buf = {}
  for i = 1, #parts do
    buf[#buf + 1] = parts[i]
    buf[#buf + 1] = id
  end
  buf[#buf + 1] = tail
  return wrk.format("POST", path, headers, table.concat(buf))
end

if delay_ms > 0 then
  function delay()
    -- 1 - random() lies in (0, 1]: log of it is finite
    return math.floor(-delay_ms * math.log(1 - math.random()) + 0.5)
  end
end

if check then
  function response(status, _, body)
    if status ~= 200 then other = other + 1
    elseif string.find(body, '"status":%s*"allowed"') then allowed = allowed + 1
    elseif string.find(body, '"status":%s*"denied"') then denied = denied + 1
    elseif string.find(body, '"status":%s*"failed"') then failed = failed + 1
    else other = other + 1 end
  end

  function done()
    local a, d, f, o = 0, 0, 0, 0
    for _, t in ipairs(threads) do
      a = a + t:get("allowed"); d = d + t:get("denied"); f = f + t:get("failed"); o = o + t:get("other")
    end
    io.write(string.format("executions: allowed %d, denied %d, failed %d, other/non-200 %d\n", a, d, f, o))
  end
end
