// Helpers for the driver tests (TAP and AF_PACKET): namespaces and veths the test owns,
// async command runners (the JS side of the link must keep running while a tool runs, so
// nothing that moves traffic may block the event loop), and a tiny ARP + ICMP echo
// responder and an L2 bridge that work in place on the receive batch.

import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { checksum } from '../../stack/wire/checksum.js';
import { VNET_HDR_LEN, type FrameBatch, type Link } from '../../drivers/link.js';

export function sh(cmd: string, ...args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function shQuiet(cmd: string, ...args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
  } catch {
    // cleanup of something already gone
  }
}

export interface RunResult { code: number; stdout: string; stderr: string }

/** Runs a command without blocking the event loop. */
export function run(cmd: string, args: string[], timeoutMs = 30000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export function inNs(ns: string, cmd: string, args: string[], timeoutMs?: number): Promise<RunResult> {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], timeoutMs);
}

/** A background process in a namespace, killed (by pid) at cleanup. */
export function spawnInNs(ns: string, cmd: string, args: string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: 'ignore' });
}

export function kill(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => { p.kill('SIGKILL'); }, 2000);
    p.once('exit', () => { clearTimeout(timer); resolve(); });
    p.kill('SIGTERM');
  });
}

export function addNs(ns: string): void {
  shQuiet('ip', 'netns', 'del', ns);
  sh('ip', 'netns', 'add', ns);
  sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
}

/** Moves `dev` into `ns`, gives it `cidr` and brings it up. */
export function placeInNs(dev: string, ns: string, cidr: string): void {
  sh('ip', 'link', 'set', dev, 'netns', ns);
  sh('ip', '-n', ns, 'addr', 'add', cidr, 'dev', dev);
  sh('ip', '-n', ns, 'link', 'set', dev, 'up');
}

export function waitFor(cond: () => Promise<boolean>, timeoutMs: number, stepMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  return new Promise((resolve) => {
    const tick = (): void => {
      cond().then((ok) => {
        if (ok) resolve(true);
        else if (Date.now() > end) resolve(false);
        else setTimeout(tick, stepMs);
      }, () => resolve(false));
    };
    tick();
  });
}

export function ipv4(s: string): number {
  return s.split('.').reduce((a, p) => ((a << 8) | Number(p)) >>> 0, 0);
}

export function macStr(m: Uint8Array): string {
  return Array.from(m, (b) => b.toString(16).padStart(2, '0')).join(':');
}

function rd32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function wr32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24; b[o + 1] = (v >>> 16) & 0xff; b[o + 2] = (v >>> 8) & 0xff; b[o + 3] = v & 0xff;
}

/**
 * Answers ARP requests for `ip` and ICMP echo requests to `ip` on `link`, rewriting each
 * request into its reply in place and sending all replies of a batch in one call.
 */
export function startResponder(link: Link, ip: number): { arp: number; echo: number } {
  const seen = { arp: 0, echo: 0 };
  const mac = link.mac;
  let off = new Int32Array(64);
  let len = new Int32Array(64);
  link.start((b: FrameBatch) => {
    if (off.length < b.count) { off = new Int32Array(b.count); len = new Int32Array(b.count); }
    const buf = b.buf;
    let n = 0;
    for (let i = 0; i < b.count; i++) {
      const o = b.off[i]!;
      const l = b.len[i]!;
      const type = (buf[o + 12]! << 8) | buf[o + 13]!;
      if (type === 0x0806 && l >= 42) {
        const a = o + 14;
        if (buf[a + 7] !== 1 || rd32(buf, a + 24) !== ip) continue;
        buf.copyWithin(a + 18, a + 8, a + 18); // requester's sha+spa become tha+tpa
        buf[a + 7] = 2;
        buf.set(mac, a + 8);
        wr32(buf, a + 14, ip);
        buf.copyWithin(o, a + 18, a + 24);
        buf.set(mac, o + 6);
        seen.arp++;
      } else if (type === 0x0800 && l >= 34) {
        const ih = o + 14;
        const ihl = (buf[ih]! & 0x0f) * 4;
        const tot = (buf[ih + 2]! << 8) | buf[ih + 3]!;
        if (buf[ih + 9] !== 1 || rd32(buf, ih + 16) !== ip || tot > l - 14 || ihl < 20) continue;
        const ic = ih + ihl;
        if (buf[ic] !== 8 || tot - ihl < 8) continue;
        buf[ic] = 0;
        buf[ic + 2] = 0; buf[ic + 3] = 0;
        const c = checksum(buf, ic, tot - ihl);
        buf[ic + 2] = c >>> 8; buf[ic + 3] = c & 0xff;
        const src = rd32(buf, ih + 12);
        wr32(buf, ih + 12, ip);
        wr32(buf, ih + 16, src);
        buf.copyWithin(o, o + 6, o + 12);
        buf.set(mac, o + 6);
        seen.echo++;
      } else {
        continue;
      }
      if (link.vnetHdr) buf.fill(0, o - VNET_HDR_LEN, o);
      off[n] = o; len[n] = l; n++;
    }
    if (n > 0) link.send(buf, off, len, n);
  });
  return seen;
}

/** Forwards every frame between two links unchanged (vnet headers included); records the
 * largest frame seen and, on vnet links, the GSO type and size of the last super-frame. */
export function bridge(a: Link, b: Link): { maxFrame: number; frames: number; gsoType: number; gsoSize: number } {
  const st = { maxFrame: 0, frames: 0, gsoType: -1, gsoSize: -1 };
  const pass = (from: Link, to: Link) => (batch: FrameBatch): void => {
    for (let i = 0; i < batch.count; i++) {
      const l = batch.len[i]!;
      if (l > st.maxFrame) st.maxFrame = l;
      if (from.vnetHdr && l > 1514) {
        const h = batch.off[i]! - VNET_HDR_LEN;
        st.gsoType = batch.buf[h + 1]!;
        st.gsoSize = batch.buf[h + 4]! | (batch.buf[h + 5]! << 8);
      }
    }
    st.frames += batch.count;
    to.send(batch.buf, batch.off, batch.len, batch.count);
  };
  a.start(pass(a, b));
  b.start(pass(b, a));
  return st;
}
