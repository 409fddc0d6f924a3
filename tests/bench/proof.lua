-- wrk script: GET /log/proof/inclusion for a random index of a log of SIZE entries.
local size

function init(args)
  size = tonumber(os.getenv("SIZE"))
  math.randomseed(os.time() + (tid or 0))
end

function request()
  local index = math.random(0, size - 1)
  return wrk.format("GET", string.format("/log/proof/inclusion?index=%d&size=%d", index, size))
end
