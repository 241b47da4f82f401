// ingest-node.mjs - the peer of wasp serve's ingest route in `make
// bench-pipe`: a Node.js cluster (one process per core, as a Node user
// scales an HTTP server) that takes a POST of NDJSON records, applies the
// same logic as node.mjs (JSON.parse, keep status >= 500, map), appends
// the kept records to its file and syncs it, then answers 202 with the
// counts, as wasp does once a batch is durable.
//   node bench/pipe/ingest-node.mjs PORT OUT_PREFIX
import cluster from 'node:cluster';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';

const [port, prefix] = process.argv.slice(2);
if (cluster.isPrimary) {
  for (let i = 0; i < os.availableParallelism(); i++) cluster.fork();
} else {
  const fd = fs.openSync(`${prefix}.${process.pid}`, 'a');
  http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const lines = Buffer.concat(chunks).toString().split('\n');
      const out = [];
      let records = 0;
      for (const line of lines) {
        if (!line) continue;
        records++;
        const r = JSON.parse(line);
        if (r.status >= 500)
          out.push(JSON.stringify({ ip: r.ip.replace(/\.\d+\.\d+$/, '.x.x'), path: r.path, status: r.status, ms: r.ms }));
      }
      if (out.length) fs.writeSync(fd, out.join('\n') + '\n');
      fs.fdatasyncSync(fd);
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ records, outputs: out.length, dead_letters: 0 }) + '\n');
    });
  }).listen(Number(port), '127.0.0.1');
}
