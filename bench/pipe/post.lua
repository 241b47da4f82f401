-- post.lua - wrk script for `make bench-pipe`'s ingest part: every request
-- POSTs the file named by the BODY environment variable (1,000 records).
local f = assert(io.open(os.getenv("BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
wrk.headers["Content-Type"] = "application/x-ndjson"
f:close()
