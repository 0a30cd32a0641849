-- wrk: POST the request credrotate sends for a Graph v1.0 resetPassword (same path shape, body
-- size and headers), over and over on each connection. Set by the caller: WRK_PATH, WRK_TOKEN.
wrk.method = "POST"
wrk.path = os.getenv("WRK_PATH")
wrk.body = '{"newPassword":"Qx7#mB2pL9vR4tW8zK3nH6jD"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("WRK_TOKEN")
