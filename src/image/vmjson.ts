// vm.json: how `nacl-router boot` runs a guest image (memory, CPUs, NICs) and what `image`
// builds into it (JIT warm-up, kernel package). Parsed with positions so that every error is
// reported as FILE:LINE:COL with the line and a caret, like the NaCl checker's.
// Shape (every key optional):
//   { "description": "...", "config": "firewall.nacl", "memory": 512, "cpus": 1,
//     "net": [{ "device": "virtio" | "vmxnet3", "mac": "52:54:00:..", "tap": "naclvm0" }],
//     "warmup": false, "kernel": "linux-image-...-cloud-amd64=VERSION", "nodeFlags": [...] }
import type { Diagnostic } from '../config/model.js';
import { didYouMean } from '../config/diagnostics.js';
import { formatMac } from '../../stack/wire/ethernet.js';

export type NicDevice = 'virtio' | 'vmxnet3';
export const NIC_DEVICES: readonly NicDevice[] = ['virtio', 'vmxnet3'];

export interface VmNic {
  device: NicDevice;
  /** Guest NIC MAC, lower case. */
  mac: string;
  /** Host TAP device backing the NIC. */
  tap: string;
}

export interface VmConfig {
  description?: string;
  /** NaCl file `boot DIR` builds from, relative to the vm.json's directory (or absolute). */
  config?: string;
  /** Guest memory in MiB. */
  memory: number;
  cpus: number;
  net: VmNic[];
  /** Run the JIT warm-up inside the guest before the links open (costs boot time). */
  warmup: boolean;
  /** Kernel package to use instead of the pinned one: NAME or NAME=VERSION. */
  kernel?: string;
  /** Extra node/V8 options for the router in the guest, after its own (the last one wins). */
  nodeFlags?: string[];
}

export const VM_DEFAULTS = { memory: 512, cpus: 1, warmup: false } as const;
const MEMORY_MIN = 256;
const MEMORY_MAX = 65536;
const CPUS_MAX = 64;

/** A stable locally administered default MAC for NIC i (QEMU's 52:54:00 prefix). */
export function defaultMac(i: number): string {
  return formatMac(Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, (0x56 + i) & 0xff));
}

export function defaultTap(i: number): string {
  return `naclvm${i}`;
}

/** vm.json for a configuration whose Ifaces use `nics` links, with every default spelled out. */
export function defaultVmConfig(nics: number, config?: string): VmConfig {
  const net: VmNic[] = [];
  for (let i = 0; i < nics; i++) net.push({ device: 'virtio', mac: defaultMac(i), tap: defaultTap(i) });
  return { ...(config ? { config } : {}), memory: VM_DEFAULTS.memory, cpus: VM_DEFAULTS.cpus, net, warmup: VM_DEFAULTS.warmup };
}

// ---- a JSON parser that keeps positions --------------------------------------------------

interface Pos { line: number; col: number; length: number }
type JNode =
  | { kind: 'object'; pos: Pos; entries: Array<{ key: string; keyPos: Pos; value: JNode }> }
  | { kind: 'array'; pos: Pos; items: JNode[] }
  | { kind: 'string'; pos: Pos; value: string }
  | { kind: 'number'; pos: Pos; value: number }
  | { kind: 'boolean'; pos: Pos; value: boolean }
  | { kind: 'null'; pos: Pos };

class JsonError extends Error {
  constructor(readonly pos: Pos, message: string) { super(message); }
}

class JsonParser {
  private i = 0;
  private line = 1;
  private lineStart = 0;
  private depth = 0;

  constructor(private readonly text: string) {}

  parse(): JNode {
    this.ws();
    const v = this.value();
    this.ws();
    if (this.i < this.text.length) throw new JsonError(this.here(1), 'unexpected text after the JSON value');
    return v;
  }

  private here(length: number): Pos {
    return { line: this.line, col: this.i - this.lineStart + 1, length };
  }

  private ws(): void {
    const t = this.text;
    while (this.i < t.length) {
      const c = t[this.i];
      if (c === '\n') { this.i++; this.line++; this.lineStart = this.i; } else if (c === ' ' || c === '\t' || c === '\r') this.i++;
      else break;
    }
  }

  private value(): JNode {
    const t = this.text;
    const c = t[this.i];
    if (c === undefined) throw new JsonError(this.here(1), 'unexpected end of file: expected a value');
    if (c === '{' || c === '[') {
      if (++this.depth > 32) throw new JsonError(this.here(1), 'nested too deeply');
      const node = c === '{' ? this.object() : this.array();
      this.depth--;
      return node;
    }
    if (c === '"') {
      const pos = this.here(1);
      const value = this.string();
      pos.length = Math.max(1, this.i - this.lineStart + 1 - pos.col);
      return { kind: 'string', pos, value };
    }
    const m = /^(?:-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null)/.exec(t.slice(this.i, this.i + 64));
    if (!m) {
      const word = /^[^\s,:\]}]{1,40}/.exec(t.slice(this.i))?.[0] ?? c;
      throw new JsonError(this.here(word.length), `expected a value, found '${word}'`);
    }
    const pos = this.here(m[0].length);
    this.i += m[0].length;
    if (m[0] === 'true' || m[0] === 'false') return { kind: 'boolean', pos, value: m[0] === 'true' };
    if (m[0] === 'null') return { kind: 'null', pos };
    return { kind: 'number', pos, value: Number(m[0]) };
  }

  private string(): string {
    const t = this.text;
    const start = this.here(1);
    this.i++;
    let out = '';
    for (;;) {
      const c = t[this.i];
      if (c === undefined || c === '\n') throw new JsonError(start, 'unterminated string');
      if (c === '"') { this.i++; return out; }
      if (c === '\\') {
        const e = t[this.i + 1];
        const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e !== undefined && Object.hasOwn(simple, e)) { out += simple[e]; this.i += 2; continue; }
        if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(t.slice(this.i + 2, this.i + 6))) {
          out += String.fromCharCode(parseInt(t.slice(this.i + 2, this.i + 6), 16));
          this.i += 6;
          continue;
        }
        throw new JsonError(this.here(2), 'bad escape in string');
      }
      if (c < ' ') throw new JsonError(this.here(1), 'control character in string');
      out += c;
      this.i++;
    }
  }

  private expect(ch: string, what: string): void {
    this.ws();
    if (this.text[this.i] !== ch) {
      const found = this.text[this.i];
      throw new JsonError(this.here(1), `expected ${what}${found === undefined ? ' before the end of file' : `, found '${found}'`}`);
    }
    this.i++;
  }

  private object(): JNode {
    const pos = this.here(1);
    this.i++;
    const entries: Array<{ key: string; keyPos: Pos; value: JNode }> = [];
    this.ws();
    if (this.text[this.i] === '}') { this.i++; return { kind: 'object', pos, entries }; }
    for (;;) {
      this.ws();
      if (this.text[this.i] !== '"') throw new JsonError(this.here(1), 'expected a "key" in double quotes');
      const keyPos = this.here(1);
      const key = this.string();
      keyPos.length = Math.max(1, this.i - this.lineStart + 1 - keyPos.col);
      this.expect(':', "':' after the key");
      this.ws();
      entries.push({ key, keyPos, value: this.value() });
      this.ws();
      if (this.text[this.i] === ',') { this.i++; continue; }
      this.expect('}', "',' or '}'");
      return { kind: 'object', pos, entries };
    }
  }

  private array(): JNode {
    const pos = this.here(1);
    this.i++;
    const items: JNode[] = [];
    this.ws();
    if (this.text[this.i] === ']') { this.i++; return { kind: 'array', pos, items }; }
    for (;;) {
      this.ws();
      items.push(this.value());
      this.ws();
      if (this.text[this.i] === ',') { this.i++; continue; }
      this.expect(']', "',' or ']'");
      return { kind: 'array', pos, items };
    }
  }
}

// ---- validation --------------------------------------------------------------------------

const TOP_KEYS = ['description', 'config', 'memory', 'cpus', 'net', 'warmup', 'kernel', 'nodeFlags'];
const NIC_KEYS = ['device', 'mac', 'tap'];

/** Parses and validates vm.json text. Returns the configuration with defaults filled in, or
 *  null with at least one error. `nics`, when known, is how many links the NaCl file uses: a
 *  missing `net` gets that many default NICs. */
export function parseVmConfig(text: string, file: string, nics = 0): { vm: VmConfig | null; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const err = (pos: Pos, message: string, hint?: string) => {
    diagnostics.push({ severity: 'error', message, loc: { file, line: pos.line, col: pos.col }, length: pos.length, ...(hint ? { hint } : {}) });
  };
  let root: JNode;
  try {
    root = new JsonParser(text).parse();
  } catch (e) {
    if (!(e instanceof JsonError)) throw e;
    err(e.pos, e.message);
    return { vm: null, diagnostics };
  }
  if (root.kind !== 'object') {
    err(root.pos, 'vm.json must be a JSON object ({ ... })');
    return { vm: null, diagnostics };
  }
  const vm: VmConfig = defaultVmConfig(nics);
  const taps = new Map<string, Pos>();
  const macs = new Map<string, Pos>();
  let netGiven = false;
  const fields = entriesOf(root, TOP_KEYS, err);
  for (const [key, { value: v }] of fields) {
    switch (key) {
      case 'description':
      case 'config':
      case 'kernel': {
        if (v.kind !== 'string' || v.value.length === 0) { err(v.pos, `'${key}' must be a non-empty string`); break; }
        if (key === 'kernel' && !/^linux-image-[a-z0-9.+-]+(=[A-Za-z0-9.+~:-]+)?$/.test(v.value)) {
          err(v.pos, `'kernel' must name a Debian kernel package: linux-image-...[=VERSION]`, 'e.g. "linux-image-6.1.0-57-cloud-amd64=6.1.192-3"');
          break;
        }
        vm[key] = v.value;
        break;
      }
      case 'memory': {
        const n = integer(v, err, key, MEMORY_MIN, MEMORY_MAX, 'MiB');
        if (n !== null) vm.memory = n;
        break;
      }
      case 'cpus': {
        const n = integer(v, err, key, 1, CPUS_MAX, 'CPUs');
        if (n !== null) vm.cpus = n;
        break;
      }
      case 'warmup':
        if (v.kind !== 'boolean') err(v.pos, "'warmup' must be true or false");
        else vm.warmup = v.value;
        break;
      case 'nodeFlags':
        if (v.kind !== 'array') { err(v.pos, "'nodeFlags' must be a list of node options: [\"--max-old-space-size=1024\"]"); break; }
        vm.nodeFlags = [];
        for (const f of v.items) {
          if (f.kind !== 'string' || !/^--[a-z0-9][a-z0-9_-]*(=[A-Za-z0-9_.,:/+-]+)?$/.test(f.value)) err(f.pos, 'each node option must be a string like "--name" or "--name=value"');
          else vm.nodeFlags.push(f.value);
        }
        break;
      case 'net':
        netGiven = true;
        vm.net = parseNet(v, err);
        break;
    }
  }
  if (!netGiven && nics === 0) err(root.pos, "no 'net' list: the guest needs at least one NIC");
  return { vm: diagnostics.length ? null : vm, diagnostics };

  function parseNet(v: JNode, report: typeof err): VmNic[] {
    if (v.kind !== 'array') { report(v.pos, "'net' must be a list of NICs: [{ \"device\": \"virtio\", ... }]"); return []; }
    if (v.items.length === 0) report(v.pos, "'net' is empty: the guest needs at least one NIC");
    if (v.items.length > 16) report(v.items[16].pos, 'at most 16 NICs');
    return v.items.slice(0, 16).map((item, i) => {
      const nic: VmNic = { device: 'virtio', mac: defaultMac(i), tap: defaultTap(i) };
      if (item.kind !== 'object') { report(item.pos, `NIC ${i} must be an object { "device": ..., "mac": ..., "tap": ... }`); return nic; }
      for (const [key, { value: f }] of entriesOf(item, NIC_KEYS, report)) {
        if (f.kind !== 'string') { report(f.pos, `'${key}' must be a string`); continue; }
        if (key === 'device') {
          if (!(NIC_DEVICES as readonly string[]).includes(f.value)) report(f.pos, `unknown NIC device '${f.value}'`, `one of ${NIC_DEVICES.join(', ')}`);
          else nic.device = f.value as NicDevice;
        } else if (key === 'mac') {
          const mac = f.value.toLowerCase();
          if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac)) report(f.pos, `bad MAC address '${f.value}'`, 'six hex pairs separated by colons, e.g. 52:54:00:12:34:56');
          else if (parseInt(mac.slice(0, 2), 16) & 1) report(f.pos, `MAC ${f.value} is a multicast address`, 'the first byte must be even (52:54:00:... is QEMU\'s prefix)');
          else if (macs.has(mac)) report(f.pos, `MAC ${f.value} is already used by another NIC`);
          else { macs.set(mac, f.pos); nic.mac = mac; }
        } else {
          if (!/^[A-Za-z0-9_.-]{1,15}$/.test(f.value) || f.value === '.' || f.value === '..') report(f.pos, `bad TAP name '${f.value}'`, 'at most 15 characters: letters, digits, _ . -');
          else if (taps.has(f.value)) report(f.pos, `TAP ${f.value} is already used by another NIC`);
          else { taps.set(f.value, f.pos); nic.tap = f.value; }
        }
      }
      return nic;
    });
  }
}

function entriesOf(obj: Extract<JNode, { kind: 'object' }>, known: string[], err: (pos: Pos, message: string, hint?: string) => void): Map<string, { value: JNode }> {
  const out = new Map<string, { value: JNode }>();
  for (const e of obj.entries) {
    if (!known.includes(e.key)) {
      err(e.keyPos, `unknown key '${e.key}'`, didYouMean(e.key, known) ?? `known keys: ${known.join(', ')}`);
    } else if (out.has(e.key)) {
      err(e.keyPos, `duplicate key '${e.key}'`);
    } else out.set(e.key, { value: e.value });
  }
  return out;
}

function integer(v: JNode, err: (pos: Pos, message: string) => void, key: string, min: number, max: number, unit: string): number | null {
  if (v.kind !== 'number' || !Number.isInteger(v.value)) { err(v.pos, `'${key}' must be a whole number (${unit})`); return null; }
  if (v.value < min || v.value > max) { err(v.pos, `'${key}' must be ${min}..${max} ${unit}, got ${v.value}`); return null; }
  return v.value;
}

/** vm.json text for a configuration (two-space JSON, one NIC per line). */
export function formatVmConfig(vm: VmConfig): string {
  const lines = ['{'];
  const top: string[] = [];
  for (const k of ['description', 'config', 'memory', 'cpus'] as const) if (vm[k] !== undefined) top.push(`  ${JSON.stringify(k)}: ${JSON.stringify(vm[k])}`);
  top.push(`  "net": [\n${vm.net.map((n) => `    ${JSON.stringify(n).replace(/,"/g, ', "').replace(/":/g, '": ')}`).join(',\n')}\n  ]`);
  top.push(`  "warmup": ${vm.warmup}`);
  if (vm.kernel !== undefined) top.push(`  "kernel": ${JSON.stringify(vm.kernel)}`);
  if (vm.nodeFlags !== undefined) top.push(`  "nodeFlags": ${JSON.stringify(vm.nodeFlags)}`);
  lines.push(top.join(',\n'), '}');
  return lines.join('\n') + '\n';
}
