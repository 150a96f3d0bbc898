// Parse+check time of a generated configuration with 100,000 rules (statements).
// Prints the figure; there is no timing assertion (machines differ), only correctness.

import t from 'tap';
import { loadConfig } from '../../src/config/index.js';

export function generate(rules: number): string {
  const lines = [
    'Iface eth0 { index: 0, address: 10.0.0.1, netmask: 255.255.255.0, input: big }',
    'ports: [80, 443, 8000 - 8100]',
    'Filter::IP big {',
  ];
  // Each `if` line is two rules (the if and its verdict).
  for (let i = 0; i < rules / 2 - 1; i++) {
    const a = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    if (i % 4 === 0) lines.push(`  if (ip.saddr == ${a}) { drop }`);
    else if (i % 4 === 1) lines.push(`  if (ip.daddr == ${a} or ip.ttl < ${i % 255}) { accept }`);
    else if (i % 4 === 2) lines.push(`  if (ip.saddr in ${a}/30 and ip.protocol == tcp) { drop }`);
    else lines.push(`  if (ip.daddr in ${a} - 10.255.255.255) { accept }`);
  }
  lines.push('  log("default")', '  drop', '}');
  return lines.join('\n');
}

t.test('100,000 rules', async (t) => {
  const text = generate(100_000);
  let best = Infinity;
  let bestCpu = Infinity;
  for (let i = 0; i < 3; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const { model, diagnostics } = loadConfig(text, 'scale.nacl');
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(c0).user / 1000;
    best = Math.min(best, ms);
    bestCpu = Math.min(bestCpu, cpu);
    t.ok(model, 'valid');
    t.equal(diagnostics.length, 0);
    t.equal(model?.rules.length, 100_000);
  }
  t.comment(`parse+check of 100,000 rules (${(text.length / 1e6).toFixed(1)} MB): best ${best.toFixed(0)} ms wall, ${bestCpu.toFixed(0)} ms cpu (of 3 runs)`);
});
