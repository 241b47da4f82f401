// run.mjs - runs one benchmark program, a wasm32-wasi command, under Node.js
// (V8) through node:wasi, as the reference.
//
//     node bench/node/run.mjs module.wasm [args...]
//
// The module's arguments are its path and args; its environment is empty
// and it sees no directories, as under `wasp run module.wasm`. Its stdout and
// stderr are ours. Exit status: the module's (proc_exit or 0 when _start
// returns), 1 when it cannot be loaded, 134 when it traps (message on
// stderr), like `wasp run`.

// node:wasi is experimental in Node 20: drop the listener that would print
// the ExperimentalWarning before loading it.
process.removeAllListeners('warning');
const { WASI } = await import('node:wasi');
const { readFileSync } = await import('node:fs');

const path = process.argv[2];
if (!path) {
  process.stderr.write('usage: node run.mjs module.wasm [args...]\n');
  process.exit(1);
}

const wasi = new WASI({
  version: 'preview1',
  args: process.argv.slice(2),
  env: {},
  returnOnExit: true,
});

let instance;
try {
  ({ instance } = await WebAssembly.instantiate(readFileSync(path), wasi.getImportObject()));
} catch (e) {
  process.stderr.write(`run.mjs: ${path}: ${e.message}\n`);
  process.exit(1);
}
let status;
try {
  status = wasi.start(instance);
} catch (e) {
  process.stderr.write(`run.mjs: ${path}: trap: ${e.message}\n`);
  process.exit(134);
}
process.exit(status);
