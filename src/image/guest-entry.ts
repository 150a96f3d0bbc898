// The router's entry point inside the guest image: `node router.mjs FILE [run options]`. Only
// the run command, so the bundle esbuild makes from this file holds nothing the guest does
// not run (no image building, no other commands).
import { command } from '../commands/run.js';

command.run(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: Error) => { process.stderr.write(`nacl-router: ${err.stack ?? err}\n`); process.exitCode = 2; },
);
