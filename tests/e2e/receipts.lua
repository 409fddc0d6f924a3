-- wrk script for the crash test: POST /v1/orgs with unique ODS codes and record a receipt
-- ("<log_index> <leaf_hash>") for every 201, flushed at once so a killed run keeps them.
-- Environment: CONSENTD_TOKEN, RECEIPTS (file prefix), CYCLE (one to three letters A-Z; the
-- counter takes the rest of the ten characters an ODS code may have).
local threads = 0
local counter = 0
local prefix, out

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  prefix = "Q" .. os.getenv("CYCLE") .. string.char(64 + tid)
  out = io.open(os.getenv("RECEIPTS") .. "." .. os.getenv("CYCLE") .. "." .. tid, "a")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("CONSENTD_TOKEN")
end

function request()
  counter = counter + 1
  local body = string.format('{"ods":"%s%0' .. (10 - #prefix) .. 'd","name":"Crash test","type":"hospital"}',
    prefix, counter)
  return wrk.format(nil, "/v1/orgs", nil, body)
end

function response(status, headers, body)
  if status == 201 then
    local index, leaf = body:match('"log_index":(%d+),"leaf_hash":"([^"]+)"')
    if index then
      out:write(index, " ", leaf, "\n")
      out:flush()
    end
  end
end
