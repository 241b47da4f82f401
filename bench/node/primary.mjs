// primary.mjs - the primary process of the bench's Node.js clusters (cluster.mjs,
// waits.mjs): forks the workers, prints "node cluster: N workers listening on ..." on
// stderr once every worker listens (the bench scripts wait for that line), exits if a
// worker dies, and stops the workers on SIGTERM/SIGINT.
import cluster from 'node:cluster';

export function runPrimary(workers, port) {
  let listening = 0;
  let stopping = false;
  cluster.on('listening', () => {
    if (++listening === workers) {
      process.stderr.write(
        `node cluster: ${workers} workers listening on http://127.0.0.1:${port}\n`);
    }
  });
  cluster.on('exit', (w, code, signal) => {
    if (!stopping) {
      process.stderr.write(`node cluster: worker ${w.process.pid} died (${signal ?? code})\n`);
      process.exit(1);
    }
  });
  const stop = () => {
    stopping = true;
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  for (let i = 0; i < workers; i++) cluster.fork();
}
