// node.mjs - `make bench-pipe`'s logic in Node.js: readline and JSON.parse,
// the way a Node user writes it. NDJSON on stdin, kept records on stdout.
import { createInterface } from 'node:readline';

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
let out = [];
for await (const line of rl) {
  if (!line) continue;
  const r = JSON.parse(line);
  if (r.status >= 500) {
    out.push(JSON.stringify({ ip: r.ip.replace(/\.\d+\.\d+$/, '.x.x'), path: r.path, status: r.status, ms: r.ms }));
    if (out.length >= 1000) {
      process.stdout.write(out.join('\n') + '\n');
      out = [];
    }
  }
}
if (out.length) process.stdout.write(out.join('\n') + '\n');
