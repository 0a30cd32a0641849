-- wrk: POST the request credrotate sends for a Graph v1.0 resetPassword (same path shape, body
-- size and headers), over and over on each connection. Set by the caller: WRK_PATH, WRK_TOKEN.
wrk.method = "POST"
wrk.path = os.getenv("WRK_PATH")
wrk.body = '{"newPassword":"Qx7#mB2pL9vR4tW8zK3nH6jD"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("WRK_TOKEN")

-- WRK_DISTINCT set: every request addresses a user of its own (as a run does), `wrkT-N@…` for
-- thread T and its N-th request, instead of WRK_PATH's user over and over.
if os.getenv("WRK_DISTINCT") then
  local threads = 0
  function setup(thread)
    threads = threads + 1
    thread:set("tid", threads)
  end
  local n = 0
  function request()
    n = n + 1
    local path = string.gsub(wrk.path, "users/[^/]+/", "users/wrk" .. tid .. "-" .. n .. "@example.test/")
    return wrk.format(nil, path)
  end
end
