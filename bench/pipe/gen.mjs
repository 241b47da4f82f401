// gen.mjs N - writes N access-log records as NDJSON to stdout, the same
// every time (a fixed linear congruential generator; its low bits are poor,
// so about a third of the statuses come out 5xx, which is fine for a bench).
const n = Number(process.argv[2] || 1000000);
let x = 12345;
const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
const methods = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'];
const statuses = [200, 200, 200, 200, 201, 204, 301, 304, 400, 404, 500, 502, 503, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200];
let chunk = [];
for (let i = 0; i < n; i++) {
  const ip = `10.${next() % 256}.${next() % 256}.${next() % 256}`;
  const rec = {
    ts: `2026-12-07T10:${String((i / 60000 | 0) % 60).padStart(2, '0')}:${String((i / 1000 | 0) % 60).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')}Z`,
    ip,
    method: methods[next() % methods.length],
    path: `/api/items/${next() % 100000}`,
    status: statuses[next() % statuses.length],
    bytes: next() % 50000,
    ua: 'Mozilla/5.0 (X11; Linux x86_64) wasp-bench/1.0',
    ms: next() % 2000,
  };
  chunk.push(JSON.stringify(rec));
  if (chunk.length === 10000) {
    process.stdout.write(chunk.join('\n') + '\n');
    chunk = [];
  }
}
if (chunk.length) process.stdout.write(chunk.join('\n') + '\n');
