// NaCl front end: text -> located AST -> checked Model. The AST comes from grammar/fast-parser.ts,
// or from the Peggy parser (grammar/parser.js) when the fast path gives up; Peggy owns syntax errors.
// loadConfig never throws on bad input: every problem becomes a located Diagnostic, and the
// model is null iff at least one error was found. Independent errors are all collected (up to
// MAX_ERRORS). Warnings are returned as diagnostics and also kept in model.warnings.

import { parse, SyntaxError as PeggySyntaxError, type PeggyExpectation } from '../../grammar/parser.js';
import { fastParse } from '../../grammar/fast-parser.js';
import type { ItemNode, SrcLoc, Value } from '../../grammar/ast.js';
import type { ConntrackModel, Diagnostic, FunctionType, Model, Subtype, IfaceModel, TimerModel, LoadBalancerModel } from './model.js';
import { Diagnostics, TooManyErrors, didYouMean, formatDiagnostics } from './diagnostics.js';
import { RESERVED_NAMES, Resolver, addPair, findPair, nameText, type Element } from './values.js';
import { FunctionChecker, SUBTYPES } from './functions.js';
import { ElementChecker } from './elements.js';

export { formatDiagnostics };

const TYPED = ['iface', 'gateway', 'conntrack', 'load_balancer', 'syslog', 'timer'];
const TYPE_TITLES = ['Iface', 'Gateway', 'Conntrack', 'Load_balancer', 'Syslog', 'Timer', 'Filter', 'Nat'];
const CI_TYPES = new Set(['iface', 'gateway', 'timer']);

export function defaultConntrack(): ConntrackModel {
  return {
    declared: false, limit: 0, reserve: 0, statefulTcp: false,
    timeout: {
      unconfirmed: { tcp: 10, udp: 10, icmp: 10 },
      confirmed: { tcp: 30, udp: 10, icmp: 10 },
      established: { tcp: 300, udp: 10, icmp: 10 },
    },
    loc: null,
  };
}

export function loadConfig(text: string, file: string): { model: Model | null; diagnostics: Diagnostic[] } {
  const diags = new Diagnostics(file);
  let model: Model | null = null;
  try {
    const items = parseItems(text, diags);
    if (items) model = check(items, text, file, diags);
  } catch (e) {
    if (e instanceof RangeError && !(e instanceof TooManyErrors)) {
      const msg = /too many rules/.test(e.message) ? `The configuration is too large: ${e.message}`
        : 'The configuration is nested too deeply to be checked';
      try { diags.error({ line: 1, col: 1, offset: 0, length: 1 }, msg); } catch { /* cap reached */ }
    } else if (!(e instanceof TooManyErrors)) {
      // A checker bug must not take the caller down: report it as a located error.
      try {
        diags.error({ line: 1, col: 1, offset: 0, length: 1 }, `Internal error while checking: ${(e as Error).message}`,
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

// ---- syntax

function describeExpected(e: PeggyExpectation): string | null {
  switch (e.type) {
    case 'literal': return ['#', '//', '/*'].includes(e.text ?? '') ? null : `'${e.text}'`;
    case 'other': return e.description === 'whitespace' ? null : e.description ?? null;
    case 'end': return 'end of input';
    case 'any': return 'any character';
    case 'class': return e.description === '[ \\t\\r\\n]' ? null : e.description === '[0-9]' ? 'a digit' : null;
  }
}

function foundToken(text: string, offset: number): { text: string; length: number } {
  if (offset >= text.length) return { text: 'end of input', length: 1 };
  const m = /^[a-zA-Z][a-zA-Z0-9_-]*|^[0-9]+|^(==|!=|<=|>=|&&|\|\||::)/.exec(text.slice(offset, offset + 200));
  if (m) return { text: `'${m[0]}'`, length: m[0].length };
  const ch = text[offset];
  if (ch === '\n' || ch === '\r') return { text: 'end of line', length: 1 };
  return { text: `'${ch}'`, length: 1 };
}

/** A hint for the common causes of a syntax error at `off`. */
function syntaxHint(text: string, off: number): string | undefined {
  const ch = text[off];
  const before = text.slice(Math.max(0, off - 60), off);
  const after = text.slice(off, off + 60);
  const open = text.lastIndexOf('/*', off);
  if (open >= 0 && text.indexOf('*/', open + 2) < 0) return "unterminated comment: '/*' is never closed with '*/'";
  if (ch === '"') {
    const close = after.indexOf('"', 1);
    const body = close > 0 ? after.slice(1, close) : after.slice(1);
    if (/#|\/\/|\/\*/.test(body)) return "a string cannot contain '#', '//' or '/*': they start comments, as in the reference";
    return "strings may contain letters, digits, spaces, '\\n' and the characters _-./:,{}()[]<>!=&|";
  }
  if (ch && /['`%;=+*@$?\\\u2018\u2019\u201c\u201d]/.test(ch)) return `'${ch}' is not part of the NaCl language`;
  const word = /^[a-zA-Z]+/.exec(after)?.[0];
  const prev = /([a-zA-Z]+)\s*$/.exec(before)?.[1];
  for (const w of [word, prev]) {
    if (w === 'NOT' || w === 'AND' || w === 'OR') return `logical operators are lower case: '${w.toLowerCase()}'`;
  }
  if (word === 'if' && prev === 'else') return "there is no 'else if': write else { if (...) { ... } }";
  if (/^[0-9]+\s*\./.test(after)) return 'numbers are written 80, 1.5 or as a full IPv4 address with four parts, 10.0.0.1';
  if (word && ['if', 'else', 'and', 'or', 'not', 'in', 'IN', 'true', 'false'].includes(word) && /^[a-z]+\s*:/i.test(after)) {
    return `'${word}' is a reserved word and cannot be used as a name or key`;
  }
  return undefined;
}

function parseItems(text: string, diags: Diagnostics): ItemNode[] | null {
  const fast = fastParse(text);
  if (fast) return fast;
  try {
    return parse(text);
  } catch (e) {
    if (!(e instanceof PeggySyntaxError) && !(e as { location?: unknown }).location) throw e;
    const err = e as PeggySyntaxError;
    const start = err.location.start;
    const exp = [...new Set((err.expected ?? []).map(describeExpected).filter((x): x is string => !!x))].sort();
    const found = foundToken(text, start.offset);
    let message: string;
    if (err.expected === null) message = err.message;
    else if (exp.length === 0) message = `unexpected ${found.text}`;
    else {
      const list = exp.length === 1 ? exp[0] : `${exp.slice(0, -1).join(', ')} or ${exp[exp.length - 1]}`;
      message = `expected ${list} but found ${found.text}`;
    }
    const hint = syntaxHint(text, start.offset);
    diags.error({ line: start.line, col: start.column, offset: start.offset, length: found.length }, `syntax error: ${message}`, hint);
    return null;
  }
}

// ---- check

function check(items: ItemNode[], text: string, file: string, diags: Diagnostics): Model | null {
  const res = new Resolver(diags);
  const elements = res.elements;
  const assigns: Array<ItemNode & { kind: 'assign' }> = [];
  const assignPaths = new Set<string>();
  const signatures = new Map<string, { type: FunctionType; subtype: Subtype }>();
  const fnNodes: Array<{ name: string; node: ItemNode & { kind: 'function' }; type: FunctionType; subtype: Subtype }> = [];

  const validName = (name: string, loc: SrcLoc): boolean => {
    if (name.includes('-')) {
      diags.error(loc, `Invalid character (-) in name ${name}`, `use '_' instead: ${name.replace(/-/g, '_')}`);
      return false;
    }
    if (RESERVED_NAMES.has(name.toLowerCase())) {
      diags.error(loc, `Invalid name ${name}`, 'ip, tcp, udp, icmp and ct name packet properties');
      return false;
    }
    return true;
  };
  const register = (el: Element): void => {
    if (elements.has(el.name)) diags.error(el.nameLoc, `Element ${el.name} has already been defined`);
    else elements.set(el.name, el);
  };

  // 1. collect
  for (const it of items) {
    switch (it.kind) {
      case 'int': break;
      case 'function': {
        const type = it.type.toLowerCase();
        const sub = SUBTYPES[it.subtype.toLowerCase()];
        let ok = true;
        if (type !== 'filter' && type !== 'nat') {
          ok = false;
          if (type === 'rewrite') diags.error(it.typeLoc, 'Rewrite functions are not supported', 'the reference registered Rewrite but crashed on any action in it');
          else if (TYPED.includes(type)) diags.error(it.typeLoc, `${it.type} is not a function type: write ${it.type} NAME { ... } without '::${it.subtype}'`);
          else diags.error(it.typeLoc, `Undefined type ${it.type}`, didYouMean(it.type, TYPE_TITLES));
        } else if (!sub) {
          ok = false;
          diags.error(it.subtypeLoc, `Unknown subtype ${it.subtype}. Valid subtypes are IP, TCP, UDP, ICMP`, didYouMean(it.subtype, ['IP', 'TCP', 'UDP', 'ICMP']));
        }
        if (it.name === null || it.nameLoc === null) {
          diags.error(it.typeLoc, 'Missing name of element', 'a top-level function needs a name: Filter::IP my_filter { ... }');
          break;
        }
        if (!validName(it.name, it.nameLoc)) break;
        if (elements.has(it.name)) {
          diags.error(it.nameLoc, `Element ${it.name} has already been defined`);
          break;
        }
        elements.set(it.name, { name: it.name, type, kind: 'function', value: null, fn: it, nameLoc: it.nameLoc, loc: it.loc, ciKeys: false });
        if (ok) {
          signatures.set(it.name, { type: type as FunctionType, subtype: sub });
          fnNodes.push({ name: it.name, node: it, type: type as FunctionType, subtype: sub });
        }
        break;
      }
      case 'typed': {
        const type = it.type.toLowerCase();
        if (!TYPED.includes(type)) {
          if (type === 'filter' || type === 'nat' || type === 'rewrite') diags.error(it.typeLoc, `${it.type} is a function type: write ${it.type}::SUBTYPE ${it.name} { ... }`);
          else diags.error(it.typeLoc, `Undefined type ${it.type}`, type === 'vlan' ? "Vlan was removed from NaCl: give an Iface a 'vlan' member instead" : didYouMean(it.type, TYPE_TITLES));
          break;
        }
        if (!validName(it.name, it.nameLoc)) break;
        register({ name: it.name, type, kind: 'typed', value: it.value, fn: null, nameLoc: it.nameLoc, loc: it.loc, ciKeys: CI_TYPES.has(type) });
        break;
      }
      case 'assign': {
        if (it.path.length === 1) {
          if (!validName(it.path[0], it.pathLoc)) break;
          register({ name: it.path[0], type: 'const', kind: 'const', value: it.value, fn: null, nameLoc: it.pathLoc, loc: it.loc, ciKeys: false });
        } else {
          const key = nameText(it.path);
          if (assignPaths.has(key)) diags.error(it.pathLoc, `Element ${key} has already been defined`);
          else {
            assignPaths.add(key);
            assigns.push(it);
          }
        }
        break;
      }
    }
  }

  // 2. dotted assignments, shortest path first
  assigns.sort((a, b) => a.path.length - b.path.length);
  for (const a of assigns) applyAssignment(a, res, diags);

  // 3. functions (every one is checked, used or not)
  const fc = new FunctionChecker(res, diags, text, signatures);
  for (const f of fnNodes) fc.check(f.name, f.node, f.type, f.subtype);

  // 4. typed elements
  const ec = new ElementChecker(res, diags, fc.functions);
  const typed = [...elements.values()].filter((e) => e.kind === 'typed');
  const ifaceEls = new Map(typed.filter((e) => e.type === 'iface').map((e) => [e.name, e]));
  const ifaces: IfaceModel[] = [];
  const seenIndex = new Map<string, SrcLoc>();
  for (const el of ifaceEls.values()) {
    const m = ec.iface(el, seenIndex);
    if (m) ifaces.push(m);
  }
  const conntrack = defaultConntrack();
  const model: Model = {
    file, ifaces, gateway: null, conntrack, syslog: null, timers: [], loadBalancers: [], functions: {}, rules: [], warnings: [],
  };
  const singletons = new Map<string, Element>();
  const timers: TimerModel[] = [];
  const lbs: LoadBalancerModel[] = [];
  for (const el of typed) {
    if (el.type === 'iface') continue;
    if (el.type === 'gateway' || el.type === 'conntrack' || el.type === 'syslog' || el.type === 'load_balancer') {
      if (singletons.has(el.type)) {
        const title = el.type === 'load_balancer' ? 'TCP Load_balancer' : el.type[0].toUpperCase() + el.type.slice(1);
        diags.error(el.nameLoc, `A ${title} has already been defined`, `the first one is ${singletons.get(el.type)!.name} (line ${singletons.get(el.type)!.nameLoc.line})`);
        continue;
      }
      singletons.set(el.type, el);
    }
    switch (el.type) {
      case 'gateway': model.gateway = ec.gateway(el, ifaceEls); break;
      case 'conntrack': ec.conntrack(el, conntrack); break;
      case 'syslog': model.syslog = ec.syslog(el); break;
      case 'timer': { const t = ec.timer(el); if (t) timers.push(t); break; }
      case 'load_balancer': { const l = ec.loadBalancer(el, ifaceEls); if (l) lbs.push(l); break; }
    }
  }
  model.timers = timers;
  model.loadBalancers = lbs;

  // 5. pushed Filters need a default verdict; recursion
  const reported = new Set<string>();
  for (const p of ec.pushes) {
    const fn = fc.functions.get(p.fn);
    if (!fn || fn.type !== 'filter' || fn.endsInVerdict || reported.has(p.fn)) continue;
    reported.add(p.fn);
    const last = fn.node.body[fn.node.body.length - 1];
    diags.error(last ? last.loc : fn.node.loc, `Missing default verdict at the end of this Filter (${p.fn} is pushed onto a chain)`,
      "end the Filter with a plain 'accept' or 'drop'");
  }
  fc.findRecursion();

  // 6. warnings
  const used = new Set<string>(ec.pushes.map((p) => p.fn));
  for (const fn of fc.functions.values()) for (const c of fn.calls) used.add(c.name);
  for (const f of fnNodes) {
    if (!used.has(f.name)) diags.warn(f.node.nameLoc!, `Function ${f.name} is defined but never used`, 'push it onto a chain or call it from another function');
  }
  for (const m of model.gateway ? ifaces : []) {
    const chained = Object.values(m.chains).some((c) => c.length > 0);
    if (!chained && !ec.ifaceUsers.has(m.name) && !m.masquerade) {
      const el = ifaceEls.get(m.name)!;
      diags.warn(el.nameLoc, `Iface ${m.name} is not used by any route and has no chains`, 'add a route for it to the Gateway, or chains, or remove it');
    }
  }

  if (diags.errors > 0) return null;

  // 7. IR
  for (const f of fnNodes) {
    model.functions[f.name] = {
      name: f.name, type: f.type, subtype: f.subtype, body: fc.instantiate(f.name, model.rules), loc: diags.loc(f.node.nameLoc!),
    };
  }
  return model;
}

function applyAssignment(a: ItemNode & { kind: 'assign' }, res: Resolver, diags: Diagnostics): void {
  const path = a.path;
  const el = res.elements.get(path[0]);
  const full = nameText(path);
  if (!el) {
    diags.error(a.pathLoc, `No element with the name ${path[0]} exists`, didYouMean(path[0], res.elements.keys()));
    return;
  }
  if (el.kind === 'function') {
    diags.error(a.pathLoc, `A function (${el.name}) does not have any named attributes`);
    return;
  }
  if (el.type === 'iface' && el.value && el.value.kind === 'name' && el.value.parts.length === 1 && !res.elements.has(el.value.parts[0])) {
    // `Iface eth0 dhcp` + `eth0.index: 0`: the configuration word becomes the config member.
    const w = el.value;
    el.value = { kind: 'object', pairs: [{ key: 'config', keyLoc: w.loc, value: w, loc: w.loc }], loc: w.loc };
  }
  let cur: Value | null = el.value;
  for (let i = 1; i < path.length; i++) {
    if (cur && cur.kind === 'name') cur = res.deref(cur);
    if (!cur) return;
    if (cur.kind !== 'object') {
      const owner = nameText(path.slice(0, i));
      if (el.type === 'gateway' && i === 1 && cur.kind === 'list') diags.error(a.pathLoc, `Trying to access a named member in a Gateway without named members (${full})`);
      else diags.error(a.pathLoc, `${owner} must be an object to set ${full}`);
      return;
    }
    const ci = el.ciKeys || i > 1;
    const p = findPair(cur, path[i], ci);
    if (i === path.length - 1) {
      if (p) {
        diags.error(a.pathLoc, `Member ${full} has already been set`, `first set at line ${p.keyLoc.line}`);
        return;
      }
      addPair(cur, { key: path[i], keyLoc: a.pathLoc, value: a.value, loc: a.loc });
      return;
    }
    if (!p) {
      diags.error(a.pathLoc, `Trying to add to a member (${nameText(path.slice(0, i + 1))}) that doesn't exist`);
      return;
    }
    cur = p.value;
  }
}
