-- wrk script (run with -t1): POST to a token endpoint with a fresh client assertion per request.
-- Environment: ASSERTIONS (a file of pre-signed assertions, one a line: each jti is single
-- use, so each line is sent once), FORM (the rest of the form, URL-encoded), TOKEN_PATH (the
-- endpoint's path), TOKENS_OUT (a file that gets the first 2,000 access tokens issued, for the
-- introspection run; optional). done() prints the statuses seen and whether the pool ran out:
-- a run that sent an assertion twice measured refusals, not tokens.
local assertions = {}
local form, path, out
local saved = 0
local thread
-- Globals, so that done() can read them from the thread with thread:get.
next_one = 1
pool_size = 0
statuses = {}

function setup(t)
  thread = t
end

function init(args)
  for line in io.lines(os.getenv("ASSERTIONS")) do
    assertions[#assertions + 1] = line
  end
  pool_size = #assertions
  form = os.getenv("FORM")
  path = os.getenv("TOKEN_PATH")
  local name = os.getenv("TOKENS_OUT")
  if name and name ~= "" then
    out = io.open(name, "w")
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
  local a = assertions[next_one]
  if a == nil then
    -- Out of assertions: send the last one again, which both servers refuse (a replay), so
    -- the run shows it in its statuses instead of silently measuring something else.
    a = assertions[#assertions]
  end
  next_one = next_one + 1
  return wrk.format(nil, path, nil, form .. "&client_assertion=" .. a)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 200 and out and saved < 2000 then
    local token = body:match('"access_token":"([^"]+)"')
    if token then
      out:write(token, "\n")
      out:flush()
      saved = saved + 1
    end
  end
end

function done(summary, latency, requests)
  local st = thread:get("statuses")
  local pool = thread:get("pool_size")
  local sent = thread:get("next_one") - 1
  local parts = {}
  for code, n in pairs(st) do
    parts[#parts + 1] = string.format("%d=%d", code, n)
  end
  table.sort(parts)
  print("statuses: " .. table.concat(parts, " "))
  print(string.format("assertions: %d sent of a pool of %d%s", sent, pool,
    sent > pool and " (RAN OUT: the rest were replays)" or ""))
end
