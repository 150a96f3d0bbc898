// Human-readable rendering of a checked Model, in a layout close to `nft list ruleset`:
// interfaces, routes, conntrack and syslog settings, then every hook's chains with their rules,
// each rule followed by `# file:line`. Rendering is two steps: showTemplate() lays out every
// line once (text, rule id, location) in transferable arrays, and renderTemplate() fills in the
// live counters for a range of lines. `nacl-router show` renders all of it; a running router
// keeps the template its build worker made and streams `ctl show` in slices between batches.

import { formatIpv4, maskPrefix } from '../../stack/wire/ipv4.js';
import {
  ADDRESS_FIELDS, HOOKS, SEVERITIES, type Cond, type Field, type Model, type Operand, type Stmt, type ValueSet,
} from '../config/model.js';

export interface RuleCounters {
  packets: ArrayLike<number>;
  bytes: ArrayLike<number>;
}

const CT_NAMES = ['new', 'established', 'related', 'invalid'];
const MAX_SET_ITEMS = 12;
const COMMENT_COL = 60;


function constText(v: number, field: Field | null): string {
  if (field && ADDRESS_FIELDS.has(field)) return formatIpv4(v);
  if (field === 'ct.state' && v >= 0 && v < CT_NAMES.length) return CT_NAMES[v];
  return String(v);
}

function operandText(o: Operand, other: Operand | null): string {
  if (o.kind === 'field') return o.field;
  return constText(o.value, other && other.kind === 'field' ? other.field : null);
}

function rangeText(lo: number, hi: number, field: Field | null): string {
  if (field && ADDRESS_FIELDS.has(field)) {
    const size = hi - lo + 1;
    if (size > 0 && (size & (size - 1)) === 0 && lo % size === 0) return `${formatIpv4(lo)}/${32 - Math.log2(size)}`;
    return `${formatIpv4(lo)}-${formatIpv4(hi)}`;
  }
  return `${lo}-${hi}`;
}

function setText(s: ValueSet, field: Field | null): string {
  const items = [...s.exact.map((v) => constText(v, field)), ...s.ranges.map(([a, b]) => rangeText(a, b, field))];
  const shown = items.slice(0, MAX_SET_ITEMS).join(', ');
  return `{ ${shown}${items.length > MAX_SET_ITEMS ? `, ... (${items.length - MAX_SET_ITEMS} more)` : ''} }`;
}

export function condText(c: Cond): string {
  switch (c.kind) {
    case 'cmp': return `${operandText(c.left, c.right)} ${c.op} ${operandText(c.right, c.left)}`;
    case 'in': return `${operandText(c.left, null)} in ${setText(c.set, c.left.kind === 'field' ? c.left.field : null)}`;
    case 'const': return String(c.value);
    case 'not': {
      const inner = condText(c.c);
      return c.c.kind === 'and' || c.c.kind === 'or' ? `not (${inner})` : `not ${inner}`;
    }
    case 'and': case 'or':
      return c.terms.map((x) => (c.kind === 'and' && x.kind === 'or' ? `(${condText(x)})` : condText(x))).join(` ${c.kind} `);
  }
}

function natText(s: Stmt & { kind: 'dnat' | 'snat' }): string {
  const to = s.addr !== null ? formatIpv4(s.addr) + (s.port !== null ? `:${s.port}` : '') : `port ${s.port}`;
  return `${s.kind} to ${to}`;
}

function logText(args: Array<{ kind: 'str'; text: string } | { kind: 'field'; field: Field }>): string {
  return args.map((a) => (a.kind === 'str' ? JSON.stringify(a.text) : a.field)).join(', ');
}

class Writer {
  readonly parts: string[] = [];
  readonly ids: number[] = [];

  line(indent: number, text: string, where?: string, id?: number): void {
    this.parts.push(`${'  '.repeat(indent)}${text}\u0000${where ?? ''}`);
    this.ids.push(id ?? -1);
  }
}

/** Every line of `show` for one Model, without counters: line i is `text\0where` (UTF-8) at
 *  bytes [at[i], at[i + 1] - 1), its rule id ids[i] (-1 for none). */
export interface ShowTemplate {
  bytes: Uint8Array;
  at: Int32Array;
  ids: Int32Array;
}

export function showTransfer(t: ShowTemplate): ArrayBuffer[] {
  return [t.bytes.buffer, t.at.buffer, t.ids.buffer] as ArrayBuffer[];
}

function templateOf(w: Writer): ShowTemplate {
  const text = w.parts.join('\n') + '\n';
  const bytes = new TextEncoder().encode(text);
  const at = new Int32Array(w.parts.length + 1);
  if (bytes.length === text.length) {
    // ASCII (the usual case): byte offsets are string offsets.
    for (let i = 0, o = 0; i < w.parts.length; i++) at[i + 1] = o += w.parts[i]!.length + 1;
  } else {
    let k = 1;
    for (let i = 0; i < bytes.length && k < at.length; i++) if (bytes[i] === 10) at[k++] = i + 1;
  }
  return { bytes, at, ids: Int32Array.from(w.ids) };
}

export function templateLines(t: ShowTemplate): number {
  return t.ids.length;
}

const decoder = new TextDecoder();

/** Lines [from, to) of a template with the counters filled in. */
export function renderTemplate(t: ShowTemplate, counters?: RuleCounters, from = 0, to = t.ids.length): string {
  const text = decoder.decode(t.bytes.subarray(t.at[from]!, t.at[to]!));
  let out = '';
  let pos = 0;
  for (let i = from; i < to; i++) {
    const nl = text.indexOf('\n', pos);
    const line = text.slice(pos, nl);
    pos = nl + 1;
    const sep = line.indexOf('\u0000');
    let s = line.slice(0, sep);
    const where = line.slice(sep + 1);
    const id = t.ids[i]!;
    let comment = '';
    if (counters && id >= 0) comment += `packets ${counters.packets[id] ?? 0} bytes ${counters.bytes[id] ?? 0}`;
    if (where) comment += (comment ? '  ' : '') + `# ${where}`;
    if (comment) s = s.padEnd(COMMENT_COL - 1) + ' ' + comment;
    out += s.trimEnd() + '\n';
  }
  return out;
}

function where(m: Model, loc: { file: string; line: number }): string {
  return `${loc.file || m.file}:${loc.line}`;
}

function renderBody(w: Writer, m: Model, body: Stmt[], indent: number): void {
  for (const s of body) {
    const at = where(m, s.loc);
    switch (s.kind) {
      case 'if':
        w.line(indent, `if ${condText(s.cond)} {`, at, s.id);
        renderBody(w, m, s.then, indent + 1);
        if (s.else) {
          w.line(indent, '} else {');
          renderBody(w, m, s.else, indent + 1);
        }
        w.line(indent, '}');
        break;
      case 'accept': case 'drop': w.line(indent, s.kind, at, s.id); break;
      case 'log': w.line(indent, `log(${logText(s.args)})`, at, s.id); break;
      case 'syslog': w.line(indent, `syslog(${SEVERITIES[s.severity] ?? s.severity}, ${logText(s.args)})`, at, s.id); break;
      case 'dnat': case 'snat': w.line(indent, natText(s), at, s.id); break;
      case 'block':
        // A block is not a rule (its rules carry its protocol): no counter of its own.
        w.line(indent, s.call ? `call ${s.call} (${s.subtype}) {` : `${s.subtype} {`, at);
        renderBody(w, m, s.body, indent + 1);
        w.line(indent, '}');
        break;
    }
  }
}

function renderChain(w: Writer, m: Model, fns: string[], indent: number): void {
  if (fns.length === 0) {
    w.line(indent, '(empty: accept)');
    return;
  }
  for (const name of fns) {
    const f = m.functions[name];
    if (!f) continue;
    w.line(indent, `${f.type} ${f.subtype} ${f.name} {`, where(m, f.loc));
    renderBody(w, m, f.body, indent + 1);
    w.line(indent, '}');
  }
}

export function renderShow(model: Model, counters?: RuleCounters): string {
  return renderTemplate(showTemplate(model), counters);
}

export function showTemplate(model: Model): ShowTemplate {
  const w = new Writer();
  const m = model;
  w.line(0, `# ${m.file}`);
  w.line(0, 'interfaces {');
  for (const i of m.ifaces) {
    const parts = [`index ${typeof i.index === 'number' ? i.index : `mac ${i.index.mac}`}`];
    if (i.vlan !== null) parts.push(`vlan ${i.vlan}`);
    parts.push(`config ${i.config}`);
    if (i.address !== null) parts.push(`address ${formatIpv4(i.address)}${i.netmask !== null ? `/${maskPrefix(i.netmask)}` : ''}`);
    if (i.gateway !== null) parts.push(`gateway ${formatIpv4(i.gateway)}`);
    if (i.dns !== null) parts.push(`dns ${formatIpv4(i.dns)}`);
    if (i.masquerade) parts.push('masquerade');
    if (i.sendQueueLimit !== null) parts.push(`send_queue_limit ${i.sendQueueLimit}`);
    if (i.bufferLimit !== null) parts.push(`buffer_limit ${i.bufferLimit}`);
    w.line(1, `${i.name}: ${parts.join(' ')}`, where(m, i.loc));
    for (const h of HOOKS) if (i.chains[h].length) w.line(2, `${h}: ${i.chains[h].join(', ')}`);
  }
  w.line(0, '}');
  if (m.gateway) {
    const g = m.gateway;
    w.line(0, `gateway ${g.name} {`, where(m, g.loc));
    w.line(1, `send_time_exceeded ${g.sendTimeExceeded}`);
    if (g.forward.length) w.line(1, `forward: ${g.forward.join(', ')}`);
    for (const r of g.routes) {
      const via = r.nexthop ? ` via ${formatIpv4(r.nexthop)}` : '';
      w.line(1, `${r.name ? `${r.name}: ` : ''}${formatIpv4(r.net)}/${r.prefix}${via} dev ${r.iface} cost ${r.cost}`, where(m, r.loc));
    }
    w.line(0, '}');
  }
  const ct = m.conntrack;
  w.line(0, 'conntrack {', ct.loc ? where(m, ct.loc) : undefined);
  w.line(1, `limit ${ct.limit === 0 ? 'unlimited' : ct.limit} reserve ${ct.reserve} stateful_tcp ${ct.statefulTcp}`);
  for (const st of ['unconfirmed', 'confirmed', 'established'] as const) {
    const t = ct.timeout[st];
    w.line(1, `timeout ${st} tcp ${t.tcp}s udp ${t.udp}s icmp ${t.icmp}s`);
  }
  w.line(0, '}');
  if (m.syslog) w.line(0, `syslog ${m.syslog.name} ${formatIpv4(m.syslog.address)}:${m.syslog.port}`, where(m, m.syslog.loc));
  for (const t of m.timers) w.line(0, `timer ${t.name} every ${t.interval}s: ${t.data.join(', ') || '(nothing)'}`, where(m, t.loc));
  for (const lb of m.loadBalancers) {
    w.line(0, `load_balancer ${lb.name} ${lb.layer} {`, where(m, lb.loc));
    w.line(1, `clients ${lb.clients.iface} port ${lb.clients.port} wait_queue_limit ${lb.clients.waitQueueLimit} session_limit ${lb.clients.sessionLimit}`);
    w.line(1, `servers ${lb.servers.iface} ${lb.servers.algorithm}: ${lb.servers.pool.map((n) => `${formatIpv4(n.address)}:${n.port}`).join(', ')}`);
    w.line(0, '}');
  }
  const onChain = new Set<string>();
  const hookOrder: Array<'prerouting' | 'input' | 'forward' | 'output' | 'postrouting'> = ['prerouting', 'input', 'forward', 'output', 'postrouting'];
  for (const hook of hookOrder) {
    if (hook === 'forward') {
      if (!m.gateway) continue;
      w.line(0, `chain forward (gateway ${m.gateway.name}) {`);
      renderChain(w, m, m.gateway.forward, 1);
      m.gateway.forward.forEach((f) => onChain.add(f));
      w.line(0, '}');
      continue;
    }
    for (const i of m.ifaces) {
      const fns = i.chains[hook];
      if (!fns.length) continue;
      w.line(0, `chain ${hook} (iface ${i.name}) {`);
      renderChain(w, m, fns, 1);
      fns.forEach((f) => onChain.add(f));
      w.line(0, '}');
    }
  }
  const rest = Object.keys(m.functions).filter((f) => !onChain.has(f));
  if (rest.length) w.line(0, `# functions not on a chain (called or unused): ${rest.join(', ')}`);
  return templateOf(w);
}

/** The Model as JSON, with object keys in a stable (sorted) order. */
export function modelJson(model: Model): string {
  return JSON.stringify(model, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(o).sort()) sorted[k] = o[k];
      return sorted;
    }
    return v;
  }, 2) + '\n';
}
