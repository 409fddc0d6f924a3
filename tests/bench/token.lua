-- wrk script (run with -t1): POST to a token endpoint with a fresh client assertion per request.
-- Environment: ASSERTIONS (a file of pre-signed assertions, one a line: each jti is single
-- use, so each line is sent once), FORM (the rest of the form, URL-encoded), TOKEN_PATH (the
-- endpoint's path).
--
-- Every request is formatted in init(), before wrk starts its clock, and a measured run (no
-- TOKENS_OUT) defines no response(): wrk then neither formats a request nor copies an answer's
-- headers and body into Lua while it runs, which on this 2-core machine leaves more of the
-- cores to the server measured. wrk's own counts say how many answers were not 2xx (run.sh
-- reports them); done() says whether the pool ran out, since a run that sent an assertion twice
-- measured refusals, not tokens, and how much CPU wrk used after init() ("load cpu: ").
--
-- With TOKENS_OUT set (a file), the run keeps the first TOKENS_WANTED (default 2,000) access
-- tokens issued, for the introspection run, counts the answers by status, and stops once it has
-- them.
local assertions = {}
local form, path, out
local want = 0
local saved = 0
local thread
-- Globals, so that done() can read them from the thread with thread:get.
next_one = 1
pool_size = 0
init_cpu = 0
collecting = false
statuses = {}

function setup(t)
  thread = t
end

function init(args)
  form = os.getenv("FORM")
  path = os.getenv("TOKEN_PATH")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  for line in io.lines(os.getenv("ASSERTIONS")) do
    assertions[#assertions + 1] = wrk.format(nil, path, nil, form .. "&client_assertion=" .. line)
  end
  pool_size = #assertions
  init_cpu = os.clock() -- the process's CPU time: what follows is the run's
  if collecting then
    out = io.open(os.getenv("TOKENS_OUT"), "w")
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
  local r = assertions[next_one]
  if r == nil then
    -- Out of assertions: send the last one again, which both servers refuse (a replay), so
    -- the run shows it in its counts instead of silently measuring something else.
    r = assertions[#assertions]
  end
  next_one = next_one + 1
  return r
end

local name = os.getenv("TOKENS_OUT")
if name and name ~= "" then
  collecting = true
  want = tonumber(os.getenv("TOKENS_WANTED") or "2000")
  function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
    if status == 200 and saved < want then
      local token = body:match('"access_token":"([^"]+)"')
      if token then
        out:write(token, "\n")
        saved = saved + 1
        if saved == want then
          out:close()
          wrk.thread:stop()
        end
      end
    end
  end
end

function done(summary, latency, requests)
  local pool = thread:get("pool_size")
  local sent = thread:get("next_one") - 1
  if thread:get("collecting") then
    local parts = {}
    for code, n in pairs(thread:get("statuses")) do
      parts[#parts + 1] = string.format("%d=%d", code, n)
    end
    table.sort(parts)
    print("statuses: " .. table.concat(parts, " "))
  end
  print(string.format("assertions: %d sent of a pool of %d%s", sent, pool,
    sent > pool and " (RAN OUT: the rest were replays)" or ""))
  print(string.format("load cpu: %.3f (after init)", os.clock() - thread:get("init_cpu")))
end
