// V8 flags the running router needs, applied by re-launching node with them (execv: same PID,
// same stdio, so supervisors, `chrt -p PID` and signals see one process).
// --no-concurrent-recompilation: V8 optimizes hot code on a background thread by default. The
// router runs pinned to one core with its packet thread at high (often real-time) priority;
// under sustained traffic that background thread never gets the core, the packet path stays
// in the interpreter for as long as the traffic lasts, and a flood or a burst of new
// connections is forwarded several times slower (measured: 5.3 µs per packet unoptimized vs
// 0.8 µs optimized). Compiling on the packet thread costs a few milliseconds once, when code
// becomes hot, instead.
// NACL_ROUTER_REEXEC=0 turns the re-launch off (the flags can also be given to node directly).
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { nativeAddon, packageRoot } from '../drivers/native.js';

export const ROUTER_V8_FLAGS = ['--no-concurrent-recompilation'];

/** Re-launches this process with ROUTER_V8_FLAGS when they are missing; returns when they are
 *  present already, when the re-launch is turned off, or when it is not possible. */
export function ensureRouterFlags(): void {
  if (process.env.NACL_ROUTER_REEXEC === '0') return;
  const missing = ROUTER_V8_FLAGS.filter((f) => !process.execArgv.includes(f));
  const script = process.argv[1];
  if (missing.length === 0 || !script || !isOurBin(script)) return;
  let addon;
  try {
    addon = nativeAddon();
  } catch {
    return; // no native driver: run() reports that itself
  }
  if (typeof addon.execv !== 'function') return;
  try {
    addon.execv(process.execPath, [process.execPath, ...missing, ...process.execArgv, script, ...process.argv.slice(2)]);
  } catch {
    // exec failed: run as we are
  }
}

/** Only the nacl-router command itself is re-launched, never a host process (a test runner). */
function isOurBin(script: string): boolean {
  try {
    return realpathSync(script) === realpathSync(join(packageRoot(), 'bin', 'nacl-router.js'));
  } catch {
    return false;
  }
}
