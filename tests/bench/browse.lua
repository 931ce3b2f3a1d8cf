-- wrk script for tests/bench/load.sh: each request goes out under one of many signed-in
-- sessions (one Cookie line each in the file given after `--`) and to one of the main pages,
-- so the load looks like many users browsing rather than one.

local sessions = {}
local pages = { "/customers", "/tools/integrations", "/products", "/customers?page=2", "/customers?q=Dental" }
local n = 0

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then sessions[#sessions + 1] = line end
  end
end

function request()
  n = n + 1
  local cookie = sessions[(n % #sessions) + 1]
  local page = pages[(n % #pages) + 1]
  return wrk.format("GET", page, { ["Cookie"] = cookie })
end
