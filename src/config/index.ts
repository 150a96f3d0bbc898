// NaCl front end: text -> AST (syntax.ts, the Peggy parser) -> checked Model (checker.ts).
// loadConfig never throws on bad input: every problem becomes a located Diagnostic, and the
// model is null iff at least one error was found. Independent errors are all collected (up to
// MAX_ERRORS). Warnings are returned as diagnostics and also kept in model.warnings.

import type { Diagnostic, Model } from './model.js';
import { Diagnostics, TooManyErrors, formatDiagnostics } from './diagnostics.js';
import { parseItems } from './syntax.js';
import { check, defaultConntrack } from './checker.js';

export { formatDiagnostics, defaultConntrack };

/** Where loadConfig's time went (ms), for reload logs and benchmarks. */
export interface LoadTimings { parseMs: number; checkMs: number }

export function loadConfig(text: string, file: string, timings?: LoadTimings): { model: Model | null; diagnostics: Diagnostic[] } {
  const diags = new Diagnostics(file, text);
  let model: Model | null = null;
  const start = { at: 0, end: 1 };
  try {
    const t0 = performance.now();
    const items = parseItems(text, diags);
    const t1 = performance.now();
    if (items) model = check(items, text, file, diags);
    if (timings) {
      timings.parseMs = t1 - t0;
      timings.checkMs = performance.now() - t1;
    }
  } catch (e) {
    if (e instanceof RangeError && !(e instanceof TooManyErrors)) {
      const msg = /too many rules/.test(e.message) ? `The configuration is too large: ${e.message}`
        : 'The configuration is nested too deeply to be checked';
      try { diags.error(start, msg); } catch { /* cap reached */ }
    } else if (!(e instanceof TooManyErrors)) {
      // A checker bug must not take the caller down: report it as a located error.
      try {
        diags.error(start, `Internal error while checking: ${(e as Error).message}`,
          'please report this input to the nacl-router maintainers');
      } catch { /* cap reached */ }
    }
  }
  if (diags.errors > 0) model = null;
  const order = { error: 0, warning: 1 };
  const diagnostics = [...diags.list].sort((a, b) => a.loc.line - b.loc.line || a.loc.col - b.loc.col || order[a.severity] - order[b.severity]);
  if (model) model.warnings = diagnostics.filter((d) => d.severity === 'warning');
  return { model, diagnostics };
}
