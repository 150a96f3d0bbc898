#!/usr/bin/env -S node --no-concurrent-recompilation
// Entry point: the compiled CLI lives in dist/ (built by `npm run build`).
// The first line is the one home of the V8 flags the router needs (src/node-flags.ts reads it
// for whatever starts node itself; docs/operations.md says why and how to start it):
// --no-concurrent-recompilation: optimize hot code on the packet thread, not on a background
// thread that never gets the core while the router, pinned and at high priority, is busy.
import('../dist/src/cli.js').then((m) => m.main(process.argv.slice(2))).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { console.error(`nacl-router: ${err && err.stack ? err.stack : err}`); process.exitCode = 2; },
);
