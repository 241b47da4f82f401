-- post.lua - the wrk script for the json benchmark (bench/http/serve.sh): every request is
-- `POST <url>` with the same small JSON body, the one examples/serve/json.c and
-- bench/node/cluster.mjs both answer with {"op":"sum","count":N,"result":X}.
-- serve.sh sends this same body once with curl first (it reads it from here, between the
-- [[ ]]) and checks that wasp and Node answer it byte for byte alike.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{"numbers":[3.5,1,4.25,-1,5,9.75,2,6,5.5,3,5,8.125,9,7,9,3.5,2,3,8,4,6.25,2,6,4,3,3,8,-3.5,2,7,9,0.1],"op":"sum"}]]
