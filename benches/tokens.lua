-- wrk script for benches/load.sh's distinct-token mode: every request carries
-- the next of the tokens in $TOKENS_FILE (one a line), cycling, so the server
-- sees as many distinct clients as there are tokens. The requests are built
-- once in init(), so the client's cost per request does not depend on the
-- number of tokens, and /health (same script) gets the same headers.
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do
  if #line > 0 then
    tokens[#tokens + 1] = line
  end
end
assert(#tokens > 0, "no tokens in " .. tostring(os.getenv("TOKENS_FILE")))

local requests = {}
local next_index = 0

-- Each wrk thread starts at its own offset, so threads do not move in step.
local thread_count = 0
function setup(thread)
  thread:set("offset", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  for i, token in ipairs(tokens) do
    requests[i] = wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. token })
  end
  next_index = ((offset or 0) * 7919) % #requests
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end

