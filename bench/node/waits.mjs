// waits.mjs - the Node.js side of bench/http/waits.sh: a node:http cluster, one worker per
// core, whose handlers wait on something else, answering as wasp's handlers do:
//
//   GET /fetch -> GET $UPSTREAM (keep-alive agent), answers
//                 "URL answered STATUS with N bytes:\n" + the body (examples/serve/fetch.c)
//   GET /sql   -> SELECT v FROM bench WHERE id = $1 (42) through a pg Pool of $PG_POOL
//                 connections per worker ($PG_URL); answers v (bench/http/guests/capread.c)
//   GET /kv    -> Redis GET greeting ($REDIS_PORT), one pipelined connection per worker
//                 (replies come in order); answers the value (capread.c)
//   anything else -> 404
//
//     NODE_PATH=build/bench-node/node_modules node bench/node/waits.mjs PORT
//
// `pg` comes from npm (waits.sh installs it under build/bench-node/); Redis is spoken
// directly (RESP), which is all a GET needs. Like cluster.mjs, the primary prints
// "node cluster: N workers listening on ..." once all listen, and stops on SIGTERM.
import cluster from 'node:cluster';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { runPrimary } from './primary.mjs';
import { createRequire } from 'node:module';

const port = Number(process.argv[2] ?? process.env.PORT ?? 8080);
const workers = Number(process.env.WORKERS) ||
  (os.availableParallelism ? os.availableParallelism() : os.cpus().length);

if (cluster.isPrimary) {
  runPrimary(workers, port);
} else {
  const upstream = process.env.UPSTREAM;
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  let pool = null;
  if (process.env.PG_URL) {
    const require = createRequire(import.meta.url);
    const pg = require('pg');
    pool = new pg.Pool({
      connectionString: process.env.PG_URL, max: Number(process.env.PG_POOL || 4),
    });
  }
  const redis = process.env.REDIS_PORT ? redisClient(Number(process.env.REDIS_PORT)) : null;
  http.createServer((req, res) => {
    const text = (status, body) => {
      res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.url.startsWith('/fetch')) {
      http.get(upstream, { agent }, (up) => {
        const chunks = [];
        up.on('data', (c) => chunks.push(c));
        up.on('end', () => {
          const body = Buffer.concat(chunks);
          const head = `${upstream} answered ${up.statusCode} with ${body.length} bytes:\n`;
          const out = Buffer.concat([Buffer.from(head), body]);
          res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': out.length });
          res.end(out);
        });
      }).on('error', (e) => text(502, `${e.message}\n`));
    } else if (req.url === '/sql' && pool) {
      pool.query('SELECT v FROM bench WHERE id = $1', [42])
        .then((r) => text(200, r.rows[0].v), (e) => text(503, `${e.message}\n`));
    } else if (req.url === '/kv' && redis) {
      redis('GET', 'greeting').then((v) => text(200, v), (e) => text(503, `${e.message}\n`));
    } else {
      text(404, 'no such path\n');
    }
  }).listen(port, '127.0.0.1');
}

// A Redis connection that pipelines commands and matches replies in order. Bulk strings
// and simple strings only: what GET needs.
function redisClient(rport) {
  const sock = net.connect(rport, '127.0.0.1');
  sock.setNoDelay(true);
  const waiting = [];
  let buf = Buffer.alloc(0);
  sock.on('data', (d) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    for (;;) {
      const nl = buf.indexOf('\r\n');
      if (nl < 0) return;
      const kind = buf[0];
      const head = buf.toString('latin1', 1, nl);
      let value;
      let used;
      if (kind === 0x24) { // $len\r\n bytes \r\n
        const len = Number(head);
        if (len < 0) { value = null; used = nl + 2; } else {
          if (buf.length < nl + 2 + len + 2) return;
          value = buf.toString('utf8', nl + 2, nl + 2 + len);
          used = nl + 2 + len + 2;
        }
      } else if (kind === 0x2d) { // -error
        value = new Error(head);
        used = nl + 2;
      } else { // +simple, :integer
        value = head;
        used = nl + 2;
      }
      buf = buf.subarray(used);
      const w = waiting.shift();
      if (value instanceof Error) w.reject(value); else w.resolve(value);
    }
  });
  return (...args) => new Promise((resolve, reject) => {
    waiting.push({ resolve, reject });
    let cmd = `*${args.length}\r\n`;
    for (const a of args) cmd += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
    sock.write(cmd);
  });
}
