// node_run.mjs - runs a WASI preview-1 command under Node's node:wasi, with
// the same flags as `wasp run`, so tests/wasi/run.sh can compare the two:
//
//   node tests/wasi/node_run.mjs [--dir HOST[::GUEST][:ro]] [--env K=V]
//        [--inherit-env] [--stdin FILE] [--] module.wasm args...
//
// Node is the reference: its stdout/stderr go straight through and its exit
// status is the guest's proc_exit code. Node has no read-only grants, so a
// `:ro` grant is refused here rather than silently given write access.
import { readFileSync, openSync } from 'node:fs';
import { WASI } from 'node:wasi';
import process from 'node:process';

function usage(msg) {
  process.stderr.write(`node_run: ${msg}\n`);
  process.exit(2);
}

const argv = process.argv.slice(2);
const preopens = {};
const env = {};
let stdin = 0;
let i = 0;
for (; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--') { i++; break; }
  if (!a.startsWith('--')) break;
  const val = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
  if (a === '--dir') {
    let spec = val();
    if (spec.endsWith(':ro')) usage(`--dir ${spec}: node:wasi has no read-only grants`);
    const sep = spec.indexOf('::');
    const host = sep < 0 ? spec : spec.slice(0, sep);
    const guest = sep < 0 ? spec : spec.slice(sep + 2);
    preopens[guest] = host;
  } else if (a === '--env') {
    const kv = val();
    const eq = kv.indexOf('=');
    if (eq <= 0) usage(`--env ${kv}: expected K=V`);
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  } else if (a === '--inherit-env') {
    Object.assign(env, process.env);
  } else if (a === '--stdin') {
    stdin = openSync(val(), 'r');
  } else {
    usage(`unknown option ${a}`);
  }
}
if (i >= argv.length) usage('no module given');
const file = argv[i];
const args = argv.slice(i);
args[0] = file.split('/').pop();

const wasi = new WASI({ version: 'preview1', args, env, preopens, stdin, returnOnExit: true });
const module = await WebAssembly.compile(readFileSync(file));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
const code = wasi.start(instance);
process.exitCode = code;
