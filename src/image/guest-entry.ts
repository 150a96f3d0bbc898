// The router's entry point inside the guest image: `node start.cjs FILE [run options]` (start.cjs
// loads the bundle of this file). Only the run command, so the bundle holds nothing the guest
// does not run. With NACL_ROUTER_MAKE_CODE_CACHE set (the image build making V8's code cache)
// it only loads FILE, so that the configuration's code path is compiled into the cache too.
import { readFileSync } from 'node:fs';
import { command } from '../commands/run.js';
import { loadConfig } from '../config/index.js';

if (process.env.NACL_ROUTER_MAKE_CODE_CACHE) {
  const file = process.argv[2];
  if (file) loadConfig(readFileSync(file, 'utf8'), file);
} else {
  command.run(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err: Error) => { process.stderr.write(`nacl-router: ${err.stack ?? err}\n`); process.exitCode = 2; },
  );
}
