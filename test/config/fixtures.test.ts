// Golden tests over the project's own NaCl fixtures (test/fixtures/nacl):
//   valid/NAME.nacl   -> NAME.json (show --json model), NAME.show.txt (show), NAME.diag.txt (warnings)
//   invalid/NAME.nacl -> NAME.diag.txt (every diagnostic, formatted as `check` prints it)
// Regenerate the goldens with UPDATE_GOLDEN=1 after an intended change, and review the diff.

import t, { type Test } from 'tap';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatDiagnostics, loadConfig } from '../../src/config/index.js';
import { modelJson, renderShow } from '../../src/control/show.js';

const ROOT = join(import.meta.dirname, '..', 'fixtures', 'nacl');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

function golden(t: Test, path: string, actual: string): void {
  if (UPDATE) {
    writeFileSync(path, actual);
    t.pass(`wrote ${path}`);
    return;
  }
  t.ok(existsSync(path), `golden ${path} exists (run with UPDATE_GOLDEN=1 to create it)`);
  if (existsSync(path)) t.equal(actual, readFileSync(path, 'utf8'), `matches ${path}`);
}

function fixtures(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).filter((f) => f.endsWith('.nacl')).sort();
}

t.test('valid fixtures check clean and match their goldens', async (t) => {
  for (const f of fixtures('valid')) {
    const name = f.slice(0, -5);
    const text = readFileSync(join(ROOT, 'valid', f), 'utf8');
    const { model, diagnostics } = loadConfig(text, `valid/${f}`);
    t.ok(model, `${f} is valid`);
    t.equal(diagnostics.filter((d) => d.severity === 'error').length, 0, `${f} has no errors`);
    if (!model) {
      t.comment(formatDiagnostics(diagnostics, text));
      continue;
    }
    t.same(model.warnings, diagnostics, `${f}: model.warnings holds every warning`);
    golden(t, join(ROOT, 'valid', `${name}.json`), modelJson(model));
    golden(t, join(ROOT, 'valid', `${name}.show.txt`), renderShow(model));
    golden(t, join(ROOT, 'valid', `${name}.diag.txt`), formatDiagnostics(diagnostics, text));
  }
});

t.test('invalid fixtures are rejected with located errors matching their goldens', async (t) => {
  for (const f of fixtures('invalid')) {
    const name = f.slice(0, -5);
    const text = readFileSync(join(ROOT, 'invalid', f), 'utf8');
    const { model, diagnostics } = loadConfig(text, `invalid/${f}`);
    t.equal(model, null, `${f} is rejected`);
    const errors = diagnostics.filter((d) => d.severity === 'error');
    t.ok(errors.length > 0, `${f} has errors`);
    t.ok(errors.length <= 20, `${f}: at most 20 errors`);
    const lines = text.split('\n');
    for (const d of diagnostics) {
      t.ok(d.loc.line >= 1 && d.loc.line <= lines.length + 1 && d.loc.col >= 1, `${f}: ${d.message} is located`);
      t.ok(d.length >= 1);
    }
    golden(t, join(ROOT, 'invalid', `${name}.diag.txt`), formatDiagnostics(diagnostics, text));
  }
});
