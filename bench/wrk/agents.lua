-- wrk script for bench/run: every request addresses another agent.
--
--   wrk -t1 -c32 -d10s -s bench/wrk/agents.lua URL -- MODE PREFIX TENANTS POOL DELAY_MS OFFSET
--       [BATCH]
--
-- MODE      put       PUT /v1/tenants/T/agents/A {"source":"push"}: agent PREFIX-THREAD-N, N
--                     counting up from 0, so every request registers a new agent
--           delete    DELETE of the same agents in the same order (run after put with the
--                     same PREFIX: the first requests deregister, past the count put made
--                     they answer changed:false)
--           presence  PUT .../presence on a pool of POOL agents PREFIX-THREAD-N (N < POOL,
--                     registered beforehand with source push), availability alternating
--                     Busy/Available per pass over the pool, so every request is a change
--                     while POOL is much larger than the connection count
--           batch     POST /v1/tenants/T/presence with BATCH items of the same pool: request
--                     R goes to tenant R mod TENANTS and takes that tenant's next BATCH
--                     agents (N = tenant + TENANTS * k), alternating as presence does
-- PREFIX    agent id prefix (ids 1 to 128 of letters, digits and -_.@)
-- TENANTS   agents are spread over tenants bt0 .. bt(TENANTS-1) by N mod TENANTS
-- POOL      pool size of mode presence (ignored otherwise)
-- DELAY_MS  0, or the mean of the exponential wait of a connection before each request
-- OFFSET    first N (default 0): a presence run that continues an earlier one on the same
--           pool passes the earlier run's request count, so the alternation goes on
-- BATCH     items per request of mode batch (default 500)
--
-- done() prints one line "BENCH_JSON {...}" with requests, duration, errors and latency
-- percentiles in microseconds, which bench/run parses.

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local mode, prefix, tenants, pool, pause, batch
local counter = 0
local headers = { ["Content-Type"] = "application/json" }

-- The API key (bench/run passes the deployment's admin key): wrk.format uses `headers` when
-- given one and wrk.headers otherwise, so both carry it.
local api_key = os.getenv("PRESENCE_API_KEY")
if api_key ~= nil and api_key ~= "" then
  headers["Authorization"] = "Bearer " .. api_key
  wrk.headers["Authorization"] = "Bearer " .. api_key
end
local register_body = '{"source":"push"}'
local busy_body = '{"availability":"Busy","activity":"InACall"}'
local available_body = '{"availability":"Available","activity":"Available"}'

function init(args)
  mode = args[1] or "put"
  prefix = args[2] or "bench"
  tenants = tonumber(args[3] or "10")
  pool = tonumber(args[4] or "10000")
  pause = tonumber(args[5] or "0")
  counter = tonumber(args[6] or "0")
  batch = tonumber(args[7] or "500")
  prefix = prefix .. "-" .. tostring(tid or 0) .. "-"
  math.randomseed(os.time() + (tid or 0))
  if mode ~= "put" and mode ~= "delete" and mode ~= "presence" and mode ~= "batch" then
    error("agents.lua: unknown mode '" .. mode .. "' (put, delete, presence or batch)")
  end
end

local function agent_path(n)
  return "/v1/tenants/bt" .. (n % tenants) .. "/agents/" .. prefix .. n
end

-- Request R of mode batch: the next BATCH agents of tenant R mod TENANTS.
function batch_request(r)
  local tenant = r % tenants
  local per_tenant = math.floor(pool / tenants)
  local first = math.floor(r / tenants) * batch
  local items = {}
  for k = 0, batch - 1 do
    local slot = first + k
    local agent = tenant + tenants * (slot % per_tenant)
    local state = (math.floor(slot / per_tenant) % 2 == 0) and "Busy" or "Available"
    items[#items + 1] = '{"agent":"' .. prefix .. agent .. '","availability":"' .. state ..
        '","activity":"' .. state .. '"}'
  end
  return wrk.format("POST", "/v1/tenants/bt" .. tenant .. "/presence", headers,
                    '{"items":[' .. table.concat(items, ",") .. ']}')
end

function request()
  local n = counter
  counter = counter + 1
  if mode == "put" then
    return wrk.format("PUT", agent_path(n), headers, register_body)
  elseif mode == "delete" then
    return wrk.format("DELETE", agent_path(n), nil, nil)
  end
  if mode == "batch" then
    return batch_request(n)
  end
  local agent = n % pool
  local body = (math.floor(n / pool) % 2 == 0) and busy_body or available_body
  return wrk.format("PUT", agent_path(agent) .. "/presence", headers, body)
end

if (tonumber(os.getenv("BENCH_WRK_DELAY_MS") or "0") or 0) > 0 then
  -- Paced runs (an open-loop emulation, wrk2 is not in Debian): before each request a
  -- connection waits an exponentially distributed time of mean DELAY_MS, so the
  -- connections do not fire in step and the arrivals approach a Poisson stream of about
  -- connections * 1000 / (DELAY_MS + latency) per second. wrk takes whole milliseconds.
  -- The global only decides whether wrk sees a delay() function at all.
  function delay()
    return math.floor(-pause * math.log(1 - math.random()) + 0.5)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
