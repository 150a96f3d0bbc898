// Conformance with the reference transpiler's verdicts on the public NaCl corpus
// (../shared/nacl-corpus/manifest.tsv beside the project, or /work/shared/nacl-corpus from a
// worktree; read in place when present, skipped otherwise).
// Every `accept` file must check clean; every `reject` file must fail with a located error.
// Part A3 exceptions (inputs the reference accepted but nacl-router rejects on purpose) are
// listed in A3_EXCEPTIONS and in docs/language.md; the corpus currently needs none.

import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatDiagnostics, loadConfig } from '../../src/config/index.js';

const CORPUS = [join(import.meta.dirname, '..', '..', '..', 'shared', 'nacl-corpus'), '/work/shared/nacl-corpus']
  .find((d) => existsSync(join(d, 'manifest.tsv'))) ?? join(import.meta.dirname, '..', '..', '..', 'shared', 'nacl-corpus');
const MANIFEST = join(CORPUS, 'manifest.tsv');

/** folder/file -> reason, for accept files nacl-router rejects under Part A3. */
const A3_EXCEPTIONS: Record<string, string> = {};

if (!existsSync(MANIFEST)) {
  t.comment(`corpus not found at ${CORPUS}: skipped`);
  t.pass('corpus absent');
} else {
  const rows = readFileSync(MANIFEST, 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'));
  t.ok(rows.length > 50, 'manifest lists the corpus');
  for (const [folder, file, verdict, message] of rows) {
    const key = `${folder}/${file}`;
    t.test(key, async (t) => {
      const text = readFileSync(join(CORPUS, folder, file), 'utf8');
      const { model, diagnostics } = loadConfig(text, file);
      const errors = diagnostics.filter((d) => d.severity === 'error');
      if (verdict === 'accept' && !A3_EXCEPTIONS[key]) {
        t.ok(model, 'accepted', { diagnostics: formatDiagnostics(errors, text) });
        t.equal(errors.length, 0);
      } else {
        t.equal(model, null, `rejected (reference: ${message || A3_EXCEPTIONS[key]})`);
        t.ok(errors.length > 0, 'at least one error');
        const lines = text.split('\n').length;
        for (const e of errors) t.ok(e.loc.line >= 1 && e.loc.line <= lines && e.loc.col >= 1, `located: ${e.loc.line}:${e.loc.col} ${e.message}`);
      }
    });
  }
}
