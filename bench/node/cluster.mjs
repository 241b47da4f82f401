// cluster.mjs - the Node.js side of `make bench-http` (bench/http/serve.sh): a plain
// node:http server run as a `cluster`, one worker process per core, answering the same
// requests as wasp's examples/serve/hello.c and examples/serve/json.c, and as the Rust
// serde_json handler bench/http/guests/order-rs:
//
//   GET  /hello -> 200 text/plain "hello, world\n"
//   POST /json  -> {"numbers":[1,2,3.5],"op":"sum"} in (op: sum, mean, max, min),
//                  200 application/json {"op":"sum","count":3,"result":6.5} out
//   POST /order -> an order (bench/http/order.lua) in, its summary out (order.mjs: the same
//                  checks, statuses and answer as order-rs; 413 over 64 KiB as well)
//   anything else -> 404
//
//     node bench/node/cluster.mjs [PORT]
//
// PORT: the argument, else $PORT, else 8080; it listens on 127.0.0.1 only. Workers:
// $WORKERS, else os.availableParallelism(). The primary prints
// "node cluster: N workers listening on http://127.0.0.1:PORT" on stderr once every worker
// listens (serve.sh waits for that line), and on SIGTERM/SIGINT stops the workers and exits.
//
// /json keeps json.c's semantics: the same statuses (405 with Allow: POST for another
// method; 413 over 64 KiB; 400 for an empty body, malformed JSON, invalid UTF-8, a lone
// surrogate, nesting deeper than 32, a number beyond a double, a repeated "numbers" or
// "op" key, a missing or mistyped "numbers" or "op", an unknown op, an empty "numbers" for
// mean/max/min, an infinite result), the same compensated (Neumaier) sum, and the same
// number format (whole numbers below 1e17 in plain digits, others as the shortest C "%.Ng"
// that reads back as the result), so wasp and node answer byte for byte alike. Parsing is
// JSON.parse's plus the checks JSON.parse does not make. The one difference, on error
// paths only: the {"error":...} messages differ (they name no byte offset).
import cluster from 'node:cluster';
import http from 'node:http';
import os from 'node:os';
import { summarizeOrder } from './order.mjs';
import { runPrimary } from './primary.mjs';

const port = Number(process.argv[2] ?? process.env.PORT ?? 8080);
const workers = Number(process.env.WORKERS) ||
  (os.availableParallelism ? os.availableParallelism() : os.cpus().length);

const BODY_MAX = 64 * 1024; // larger bodies get 413, as in json.c
const DEPTH_MAX = 32; // arrays and objects nested deeper get 400, as in json.c
const OPS = ['sum', 'mean', 'max', 'min'];

if (cluster.isPrimary) {
  runPrimary(workers, port);
} else {
  http.createServer(handle).listen(port, '127.0.0.1');
}

function send(res, status, type, body, extra) {
  res.writeHead(status, {
    'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...extra,
  });
  res.end(body);
}

function sendError(res, status, msg, extra) {
  send(res, status, 'application/json', `{"error":${JSON.stringify(msg)}}`, extra);
}

function handle(req, res) {
  if (req.url === '/hello' && req.method === 'GET') {
    send(res, 200, 'text/plain', 'hello, world\n');
  } else if (req.url === '/json') {
    post(req, res, 'method not allowed: POST a JSON object', compute);
  } else if (req.url === '/order') {
    post(req, res, 'method not allowed: POST an order', summarizeOrder);
  } else {
    send(res, 404, 'text/plain', 'not found\n');
  }
}

// A POST route: 405 for another method, 413 past BODY_MAX, else run(body) -> { body } (200)
// or { error } (400).
function post(req, res, notAllowed, run) {
  if (req.method !== 'POST') {
    sendError(res, 405, notAllowed, { Allow: 'POST' });
    return;
  }
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size <= BODY_MAX) chunks.push(c);
  });
  req.on('end', () => {
    if (size > BODY_MAX) {
      sendError(res, 413, `request body larger than ${BODY_MAX} bytes`);
      return;
    }
    const r = run(Buffer.concat(chunks, size));
    if (r.error) sendError(res, 400, r.error);
    else send(res, 200, 'application/json', r.body);
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// Every string (keys too) is well formed and containers nest at most DEPTH_MAX deep (the
// top-level object is depth 0), as json.c's parser checks while it reads.
function wellFormed(v, depth) {
  if (typeof v === 'string') return v.isWellFormed();
  if (v === null || typeof v !== 'object') return true;
  if (depth >= DEPTH_MAX) return false;
  if (Array.isArray(v)) return v.every((x) => wellFormed(x, depth + 1));
  for (const k in v) {
    if (!k.isWellFormed() || !wellFormed(v[k], depth + 1)) return false;
  }
  return true;
}

// JSON.parse keeps the last of repeated keys; json.c refuses a repeated "numbers" or "op".
// text is valid JSON holding an object. Returns the repeated key, or null. Cheap unless a
// key may be spelled with escapes or appears twice, which the benchmark's body never does.
function duplicateKey(text) {
  const twice = (k) => text.indexOf(k) !== text.lastIndexOf(k);
  if (!text.includes('\\u') && !twice('"numbers"') && !twice('"op"')) return null;
  const seen = new Set();
  let i = text.indexOf('{') + 1;
  const ws = () => { while (' \t\n\r'.includes(text[i])) i++; };
  const string = () => { // at the opening quote; returns the raw text with its quotes
    const start = i++;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    return text.slice(start, ++i);
  };
  for (;;) {
    ws();
    if (text[i] === '}') return null;
    const key = JSON.parse(string());
    if ((key === 'numbers' || key === 'op') && seen.has(key)) return key;
    seen.add(key);
    ws();
    i++; // ':'
    ws();
    // Skip the value: up to the ',' or '}' that follows it at this level.
    for (let depth = 0; ;) {
      const c = text[i];
      if (c === '"') {
        string();
      } else if (depth === 0 && (c === ',' || c === '}')) {
        break;
      } else {
        if (c === '[' || c === '{') depth++;
        else if (c === ']' || c === '}') depth--;
        i++;
      }
    }
    if (text[i] === '}') return null;
    i++; // ','
  }
}

// {"numbers":[...],"op":OP} -> { body } or { error }.
function compute(bytes) {
  if (bytes.length === 0) return { error: 'empty body: POST {"numbers":[...],"op":"sum"}' };
  let text, v;
  try {
    text = utf8.decode(bytes);
    v = JSON.parse(text);
  } catch (e) {
    return { error: e instanceof TypeError ? 'invalid UTF-8' : e.message };
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    return { error: 'expected a JSON object' };
  }
  for (const k in v) {
    if (!k.isWellFormed() || !wellFormed(v[k], 1)) {
      return { error: 'lone surrogate in string, or arrays and objects nested too deep' };
    }
  }
  const dup = duplicateKey(text);
  if (dup) return { error: `duplicate key "${dup}"` };
  const a = v.numbers;
  if (a === undefined) return { error: 'missing key "numbers"' };
  if (!Array.isArray(a)) return { error: '"numbers" must be an array of numbers' };
  for (const x of a) {
    if (typeof x !== 'number') return { error: '"numbers" must hold numbers only' };
    if (!Number.isFinite(x)) return { error: 'number too large for a double' };
  }
  if (v.op === undefined) return { error: 'missing key "op"' };
  const op = v.op;
  if (!OPS.includes(op)) return { error: '"op" must be "sum", "mean", "max" or "min"' };
  if (a.length === 0 && op !== 'sum') {
    return { error: '"numbers" is empty: mean, max and min need one or more' };
  }
  // Neumaier's compensated sum, min and max, in json.c's order of operations.
  let sum = 0, comp = 0, min = 0, max = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const t = sum + x;
    if (Math.abs(sum) >= Math.abs(x)) comp += (sum - t) + x;
    else comp += (x - t) + sum;
    sum = t;
    if (i === 0 || x < min) min = x;
    if (i === 0 || x > max) max = x;
  }
  let result;
  switch (op) {
  case 'sum': result = sum + comp; break;
  case 'mean': result = (sum + comp) / a.length; break;
  case 'max': result = max; break;
  default: result = min; break;
  }
  if (!Number.isFinite(result)) return { error: 'result too large for a double' };
  return { body: `{"op":"${op}","count":${a.length},"result":${formatDouble(result)}}` };
}

// v (finite, > 0) rounded to prec significant digits the way glibc's printf rounds: to
// nearest, ties to even on the exact binary value. toExponential rounds ties away from
// zero, so an exact tie (the next digit is 5 and nothing follows it) is settled here.
function sigDigits(v, prec) {
  let [m, e] = v.toExponential(prec - 1).split('e');
  let digits = m.replace('.', '');
  let exp = Number(e);
  const [lm, le] = v.toExponential(prec).split('e');
  const longer = lm.replace('.', '');
  if (longer.endsWith('5') && isExactly(v, BigInt(longer), Number(le) - prec)) {
    const kept = longer.slice(0, prec);
    if (Number(kept[prec - 1]) % 2 === 0) {
      digits = kept;
      exp = Number(le);
    }
  }
  return { digits, exp };
}

// Whether v (finite, > 0) equals n * 10^k exactly.
function isExactly(v, n, k) {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, v);
  const bits = dv.getBigUint64(0);
  const be = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  let lhs = be === 0 ? frac : frac | (1n << 52n); // v = lhs * 2^e2
  const e2 = (be === 0 ? 1 : be) - 1075;
  let rhs = n;
  if (e2 >= 0) lhs <<= BigInt(e2);
  else rhs <<= BigInt(-e2);
  if (k >= 0) rhs *= 10n ** BigInt(k);
  else lhs *= 10n ** BigInt(-k);
  return lhs === rhs;
}

// C's "%.{prec}g" (no flags) for a finite double.
function formatG(v, prec) {
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const sign = v < 0 ? '-' : '';
  const { digits, exp } = sigDigits(Math.abs(v), prec);
  if (exp < -4 || exp >= prec) {
    const rest = digits.slice(1).replace(/0+$/, '');
    const e = Math.abs(exp).toString().padStart(2, '0');
    return `${sign}${digits[0]}${rest ? '.' + rest : ''}e${exp < 0 ? '-' : '+'}${e}`;
  }
  let int, frac;
  if (exp >= 0) {
    int = digits.slice(0, exp + 1);
    frac = digits.slice(exp + 1);
  } else {
    int = '0';
    frac = '0'.repeat(-exp - 1) + digits;
  }
  frac = frac.replace(/0+$/, '');
  return sign + int + (frac ? '.' + frac : '');
}

// json.c's format_double: whole numbers below 1e17 in plain digits ("%.0f"), others in the
// shortest "%.Ng" (N = 1..17) that reads back as v.
function formatDouble(v) {
  if (Math.abs(v) < 1e17 && Number.isInteger(v)) return Object.is(v, -0) ? '-0' : v.toFixed(0);
  let s;
  for (let prec = 1; prec <= 17; prec++) {
    s = formatG(v, prec);
    if (Number(s) === v) return s;
  }
  return s;
}
