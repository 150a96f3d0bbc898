import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { command } from '../../src/commands/trace.js';
import { loadConfig } from '../../src/config/index.js';
import { renderShow } from '../../src/control/show.js';
import { parsePacketSpec, tracePacket } from '../../src/control/trace.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/trace-gw.nacl', import.meta.url));
const text = readFileSync(FIXTURE, 'utf8');
const { model } = loadConfig(text, 'trace-gw.nacl');

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const wo = process.stdout.write.bind(process.stdout), we = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => { out += s; return true; }) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => { err += s; return true; }) as typeof process.stderr.write;
  try {
    const code = await command.run(args);
    return { code, out, err };
  } finally {
    process.stdout.write = wo;
    process.stderr.write = we;
  }
}

function trace(spec: string) {
  const s = parsePacketSpec(spec);
  if (typeof s === 'string') throw new Error(s);
  const r = tracePacket(model!, s);
  if ('error' in r) throw new Error(r.error);
  return r;
}

t.ok(model, 'fixture loads');

t.test('forwarded TCP packet allowed by the forward filter', (t) => {
  const r = trace('tcp 10.0.0.5:40000 > 192.168.0.10:443 in outside [syn] ct new');
  t.equal(r.verdict, 'accept');
  t.equal(r.iface, 'inside');
  t.match(r.lines.join('\n'), /trace-gw\.nacl:49: if \(tcp\.dport in allowed\) \[true\]/);
  t.match(r.lines.join('\n'), /log: out 10\.0\.0\.5 -> 192\.168\.0\.10/);
  t.match(r.lines.at(-1)!, /^verdict: ACCEPT \(forwarded out inside\): tcp 10\.0\.0\.5:40000 > 192\.168\.0\.10:443 \[syn\] ct new ttl 63/);
  t.end();
});

t.test('dnat in prerouting rewrites the tuple before the route', (t) => {
  const r = trace('tcp 10.0.0.5:40000 > 10.0.0.1:8080 in outside');
  t.equal(r.verdict, 'accept');
  t.equal(r.iface, 'inside');
  t.match(r.lines.join('\n'), /dnat: tcp 10\.0\.0\.5:40000 > 10\.0\.0\.1:8080 .* =>  tcp 10\.0\.0\.5:40000 > 192\.168\.0\.10:80/);
  t.end();
});

t.test('drops, local delivery, TTL and the default route', (t) => {
  const u = trace('udp 10.0.0.5:1 > 192.168.0.10:53');
  t.equal(u.verdict, 'drop');
  // The rules of the Filter::TCP block carry its protocol test: false for a UDP packet.
  t.match(u.lines.join('\n'), /trace-gw\.nacl:49: if \(tcp\.dport in allowed\) \[false\]/);
  t.match(u.lines.at(-1)!, /DROP \(Gateway forward chain\)/);
  const ping = trace('icmp 10.0.0.5 > 10.0.0.1 type echo-request');
  t.equal(ping.verdict, 'accept');
  t.ok(ping.local);
  const other = trace('icmp 10.0.0.5 > 10.0.0.1 type echo-reply');
  t.equal(other.verdict, 'drop');
  t.match(trace('tcp 10.0.0.5:1 > 192.168.0.10:22 ttl 1').lines.at(-1)!, /TTL 1 would expire/);
  const out = trace('tcp 192.168.0.10:5000 > 8.8.8.8:443 in inside ct established');
  t.equal(out.iface, 'outside');
  t.match(out.lines.join('\n'), /route: r_default: 0\.0\.0\.0\/0 via 10\.0\.0\.254 dev outside/);
  t.end();
});

t.test('trace and show name the same rule locations', (t) => {
  const show = renderShow(model!);
  const r = trace('tcp 10.0.0.5:40000 > 10.0.0.1:8080 in outside');
  const locs = new Set<string>();
  for (const l of r.lines) for (const m of l.matchAll(/(trace-gw\.nacl:\d+): (?!Filter::|Nat::)/g)) locs.add(m[1]!);
  t.ok(locs.size >= 5, `${locs.size} rule locations traced`);
  for (const loc of locs) t.ok(show.includes(`# ${loc}`), `show has ${loc}`);
  t.end();
});

t.test('bad specs get a clear message', (t) => {
  const bad: Array<[string, RegExp]> = [
    ['sctp 1.2.3.4 > 5.6.7.8', /unknown protocol 'sctp'/],
    ['tcp 1.2.3.4 > 5.6.7.8:1', /bad source port/],
    ['tcp 1.2.3.999:1 > 5.6.7.8:1', /bad source address/],
    ['tcp 1.2.3.4:1 5.6.7.8:1', /expected '>'/],
    ['tcp 1.2.3.4:1 > 5.6.7.8:1 [syn,bogus]', /unknown TCP flag 'bogus'/],
    ['udp 1.2.3.4:1 > 5.6.7.8:1 [syn]', /non-TCP/],
    ['icmp 1.2.3.4 > 5.6.7.8 type nope', /unknown ICMP type 'nope'/],
    ['tcp 1.2.3.4:1 > 5.6.7.8:1 ct maybe', /unknown ct state 'maybe'/],
    ['tcp 1.2.3.4:1 > 5.6.7.8:1 ttl 300', /'ttl' needs a number 0-255/],
    ['tcp 1.2.3.4:1 > 5.6.7.8:1 len 30', /shorter than the headers/],
    ['tcp 1.2.3.4:1 > 5.6.7.8:1 wat', /unknown word 'wat'/],
  ];
  for (const [s, re] of bad) {
    const r = parsePacketSpec(s);
    t.type(r, 'string', s);
    t.match(r as string, re, s);
  }
  const spec = parsePacketSpec('tcp 1.2.3.4:1 > 5.6.7.8:1 in nowhere');
  t.match((tracePacket(model!, spec as Exclude<typeof spec, string>) as { error: string }).error, /unknown Iface 'nowhere'/);
  t.end();
});

t.test('the command: output, exit codes', async (t) => {
  const ok = await cli([FIXTURE, '--packet', 'tcp 10.0.0.5:40000 > 192.168.0.10:443 in outside [syn] ct new']);
  t.equal(ok.code, 0);
  t.match(ok.out, /verdict: ACCEPT/);
  const bad = await cli([FIXTURE, '--packet', 'tcp 10.0.0.5 > x']);
  t.equal(bad.code, 2);
  t.match(bad.err, /bad packet spec: bad source port/);
  t.equal((await cli([FIXTURE])).code, 2, 'missing --packet');
  t.equal((await cli(['/nonexistent.nacl', '--packet', 'udp 1.1.1.1:1 > 2.2.2.2:2'])).code, 2, 'unreadable file');
  const dir = mkdtempSync(join(tmpdir(), 'nacl-trace-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const badFile = join(dir, 'bad.nacl');
  writeFileSync(badFile, 'Filter::IP f {\n  if (ip.bogus == 1) { drop }\n  accept\n}\n');
  const inv = await cli([badFile, '--packet', 'udp 1.1.1.1:1 > 2.2.2.2:2']);
  t.equal(inv.code, 1, 'invalid configuration');
  t.match(inv.err, /bad\.nacl:2:\d+: error:/);
  t.end();
});
