-- wrk script: a realistic mix over prepared users (users.tsv: token, request id, address,
-- sealed record) and requests (requests.txt). MIX selects the weights: "mix" (reads and
-- sealed contributions), or a single kind: "contribute", "list", "get", "ledger", "balance",
-- "health". Each thread counts statuses; done() prints one JSON line for run.sh.
local dir = os.getenv("LOAD_DIR")
local mix = os.getenv("MIX") or "mix"
local users, requests = {}, {}
local threads = {}

local weights = {
  mix = { list = 25, get = 20, ledger = 15, balance = 15, health = 5, contribute = 20 },
}
local plan = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  for line in io.lines(dir .. "/users.tsv") do
    local t, r, a, s = line:match("([^\t]+)\t([^\t]+)\t([^\t]+)\t([^\t]+)")
    if t then table.insert(users, { token = t, req = r, addr = a, body = '{"sealed":"' .. s .. '"}' }) end
  end
  for line in io.lines(dir .. "/requests.txt") do table.insert(requests, line) end
  local w = weights[mix] or { [mix] = 1 }
  for kind, n in pairs(w) do for _ = 1, n do table.insert(plan, kind) end end
  math.randomseed(os.time() + id * 7919)
  counts = {}
end

function request()
  local kind = plan[math.random(#plan)]
  local u = users[math.random(#users)]
  if kind == "list" then
    return wrk.format("GET", "/v1/requests?limit=20")
  elseif kind == "get" then
    return wrk.format("GET", "/v1/requests/" .. requests[math.random(#requests)])
  elseif kind == "ledger" then
    return wrk.format("GET", "/v1/ledger/entries?limit=50")
  elseif kind == "balance" then
    return wrk.format("GET", "/v1/accounts/" .. u.addr .. "/balance")
  elseif kind == "health" then
    return wrk.format("GET", "/healthz")
  else
    return wrk.format("POST", "/v1/requests/" .. u.req .. "/contributions",
      { ["Authorization"] = "Bearer " .. u.token, ["Content-Type"] = "application/json" }, u.body)
  end
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for s, n in pairs(c) do total[s] = (total[s] or 0) + n end
  end
  local parts = {}
  for s, n in pairs(total) do table.insert(parts, string.format('"%d":%d', s, n)) end
  io.write(string.format('RESULT {"requests":%d,"seconds":%.3f,"p50_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"socket_errors":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    latency.max, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, table.concat(parts, ",")))
end
