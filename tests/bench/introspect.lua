-- wrk script (run with -t1): POST /oauth2/introspect for the access tokens in TOKENS (one a
-- line, from the token run), in turn, authenticated as a custodian with its bearer token
-- (BEARER, scope introspect: the path with no write). done() prints the statuses and how many
-- answers said active: a run of {"active":false} answers measured the refusal path only.
local tokens = {}
local next_one = 0
local thread
-- Globals, so that done() can read them from the thread with thread:get.
statuses = {}
active = 0
inactive = 0

function setup(t)
  thread = t
end

-- Each request is formatted once, here, and sent in turn.
function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("BEARER")
  for line in io.lines(os.getenv("TOKENS")) do
    tokens[#tokens + 1] = wrk.format(nil, "/oauth2/introspect", nil, "token=" .. line)
  end
end

function request()
  next_one = next_one % #tokens + 1
  return tokens[next_one]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 200 then
    if body:find('"active":true', 1, true) then
      active = active + 1
    else
      inactive = inactive + 1
    end
  end
end

function done(summary, latency, requests)
  local st = thread:get("statuses")
  local parts = {}
  for code, n in pairs(st) do
    parts[#parts + 1] = string.format("%d=%d", code, n)
  end
  table.sort(parts)
  print("statuses: " .. table.concat(parts, " "))
  print(string.format("answers: %d active, %d inactive", thread:get("active"), thread:get("inactive")))
end
