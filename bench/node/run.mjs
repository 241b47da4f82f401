// run.mjs - runs one benchmark module under Node.js (V8), the reference.
//
//     node bench/node/run.mjs module.wasm
//
// The same contract as bench/wasp_run.c: the module imports print_i64(i64)
// and print_str(i32 ptr, i32 len) from "env" and exports `run` and its
// memory. Output goes to stdout; exit status 1 when the module cannot be
// loaded, 2 when it traps (message on stderr).
import { readFileSync, writeSync } from 'node:fs';

const path = process.argv[2];
if (!path || process.argv.length !== 3) {
  process.stderr.write('usage: node run.mjs module.wasm\n');
  process.exit(1);
}

let memory = null;
const out = (s) => writeSync(1, s);
const env = {
  print_i64: (v) => out(`${v}\n`),
  print_str: (ptr, len) => {
    const bytes = new Uint8Array(memory.buffer, ptr >>> 0, len >>> 0);
    writeSync(1, bytes);
  },
};

let instance;
try {
  ({ instance } = await WebAssembly.instantiate(readFileSync(path), { env }));
} catch (e) {
  process.stderr.write(`run.mjs: ${path}: ${e.message}\n`);
  process.exit(1);
}
memory = instance.exports.memory;
if (typeof instance.exports.run !== 'function' || !memory) {
  process.stderr.write(`run.mjs: ${path}: no export \`run\` or \`memory\`\n`);
  process.exit(1);
}
try {
  instance.exports.run();
} catch (e) {
  process.stderr.write(`run.mjs: ${path}: trap: ${e.message}\n`);
  process.exit(2);
}
