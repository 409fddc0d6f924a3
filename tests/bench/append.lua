-- wrk script: POST /v1/orgs with a unique ODS code per request (durable appends).
-- Each wrk thread gets its own prefix so codes never collide across threads or runs.
local counter = 0
local prefix = nil

function setup(thread)
  thread:set("tid", string.char(65 + math.random(0, 25)) .. string.char(65 + math.random(0, 25)))
end

function init(args)
  prefix = (tid or "ZZ") .. string.char(65 + math.random(0, 25)) .. string.char(65 + math.random(0, 25))
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("CONSENTD_TOKEN")
end

function request()
  counter = counter + 1
  local body = string.format('{"ods":"%s%06d","name":"Bench org","type":"gp-practice"}', prefix, counter)
  return wrk.format(nil, "/v1/orgs", nil, body)
end
