// upstream.mjs - the slow upstream API of bench/http/waits.sh: one Node process that
// answers every request after DELAY ms (default 100) with a small JSON body, keep-alive,
// thousands in flight at once (a timer each, no thread).
//
//     node bench/node/upstream.mjs PORT [DELAY]
import http from 'node:http';

const port = Number(process.argv[2]);
const delay = Number(process.argv[3] ?? 100);
const body = '{"status":"ok","items":[1,2,3]}\n';
const server = http.createServer((req, res) => {
  setTimeout(() => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
    res.end(body);
  }, delay);
});
server.keepAliveTimeout = 60000;
server.listen(port, '127.0.0.1', () => process.stderr.write(`upstream: listening on ${port}\n`));
process.on('SIGTERM', () => process.exit(0));
