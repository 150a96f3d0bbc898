// The checker: a parsed file (grammar/ast.ts items) -> the checked Model. Collects every
// element, merges dotted assignments, checks each function once (functions.ts) and each typed
// element (elements.ts), reports pushes without a default verdict, recursion and unused
// functions, then instantiates the rule IR with calls inlined. Problems go to the Diagnostics
// collector; check() returns null iff an error was reported.

import type { ItemNode, Span, Value } from '../../grammar/ast.js';
import type { ConntrackModel, FunctionType, Model, Subtype, IfaceModel, TimerModel, LoadBalancerModel } from './model.js';
import { didYouMean, tok, type Diagnostics } from './diagnostics.js';
import { RESERVED_NAMES, Resolver, addPair, findPair, nameText, wordOf, type Element } from './values.js';
import { FunctionChecker, SUBTYPES, type Tmpl } from './functions.js';
import { ElementChecker } from './elements.js';

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

export function check(items: ItemNode[], text: string, file: string, diags: Diagnostics): Model | null {
  const res = new Resolver(diags);
  const elements = res.elements;
  const assigns: Array<ItemNode & { kind: 'assign' }> = [];
  const assignPaths = new Set<string>();
  const signatures = new Map<string, { type: FunctionType; subtype: Subtype }>();
  const fnNodes: Array<{ name: string; node: ItemNode & { kind: 'function' }; type: FunctionType; subtype: Subtype }> = [];

  const validName = (name: string, loc: Span): boolean => {
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
        const typeLoc = tok(it.typeAt, it.type.length);
        const sub = SUBTYPES[it.subtype.toLowerCase()];
        let ok = true;
        if (type !== 'filter' && type !== 'nat') {
          ok = false;
          if (type === 'rewrite') diags.error(typeLoc, 'Rewrite functions are not supported', 'the reference registered Rewrite but crashed on any action in it');
          else if (TYPED.includes(type)) diags.error(typeLoc, `${it.type} is not a function type: write ${it.type} NAME { ... } without '::${it.subtype}'`);
          else diags.error(typeLoc, `Undefined type ${it.type}`, didYouMean(it.type, TYPE_TITLES));
        } else if (!sub) {
          ok = false;
          diags.error(tok(it.subtypeAt, it.subtype.length), `Unknown subtype ${it.subtype}. Valid subtypes are IP, TCP, UDP, ICMP`, didYouMean(it.subtype, ['IP', 'TCP', 'UDP', 'ICMP']));
        }
        if (it.name === null) {
          diags.error(typeLoc, 'Missing name of element', 'a top-level function needs a name: Filter::IP my_filter { ... }');
          break;
        }
        const nameLoc = tok(it.nameAt, it.name.length);
        if (!validName(it.name, nameLoc)) break;
        if (elements.has(it.name)) {
          diags.error(nameLoc, `Element ${it.name} has already been defined`);
          break;
        }
        elements.set(it.name, { name: it.name, type, kind: 'function', value: null, fn: it, nameLoc, loc: it, ciKeys: false });
        if (ok) {
          signatures.set(it.name, { type: type as FunctionType, subtype: sub });
          fnNodes.push({ name: it.name, node: it, type: type as FunctionType, subtype: sub });
        }
        break;
      }
      case 'typed': {
        const type = it.type.toLowerCase();
        const typeLoc = tok(it.typeAt, it.type.length);
        const nameLoc = tok(it.nameAt, it.name.length);
        if (!TYPED.includes(type)) {
          if (type === 'filter' || type === 'nat' || type === 'rewrite') diags.error(typeLoc, `${it.type} is a function type: write ${it.type}::SUBTYPE ${it.name} { ... }`);
          else diags.error(typeLoc, `Undefined type ${it.type}`, type === 'vlan' ? "Vlan was removed from NaCl: give an Iface a 'vlan' member instead" : didYouMean(it.type, TYPE_TITLES));
          break;
        }
        if (!validName(it.name, nameLoc)) break;
        register({ name: it.name, type, kind: 'typed', value: it.value, fn: null, nameLoc, loc: it, ciKeys: CI_TYPES.has(type) });
        break;
      }
      case 'assign': {
        const pathLoc = { at: it.pathAt, end: it.pathEnd };
        if (it.path.length === 1) {
          if (!validName(it.path[0], pathLoc)) break;
          register({ name: it.path[0], type: 'const', kind: 'const', value: it.value, fn: null, nameLoc: pathLoc, loc: it, ciKeys: false });
        } else {
          const key = nameText(it.path);
          if (assignPaths.has(key)) diags.error(pathLoc, `Element ${key} has already been defined`);
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
  const seenIndex = new Map<string, Span>();
  for (const el of ifaceEls.values()) {
    const m = ec.iface(el, seenIndex);
    if (m) ifaces.push(m);
  }
  const conntrack = defaultConntrack();
  const model: Model = {
    file, ifaces, gateway: null, conntrack, syslog: null, timers: [], loadBalancers: [], functions: {}, rules: [], writtenRules: 0, warnings: [],
  };
  const singletons = new Map<string, Element>();
  const timers: TimerModel[] = [];
  const lbs: LoadBalancerModel[] = [];
  for (const el of typed) {
    if (el.type === 'iface') continue;
    if (el.type === 'gateway' || el.type === 'conntrack' || el.type === 'syslog' || el.type === 'load_balancer') {
      if (singletons.has(el.type)) {
        const title = el.type === 'load_balancer' ? 'TCP Load_balancer' : el.type[0].toUpperCase() + el.type.slice(1);
        diags.error(el.nameLoc, `A ${title} has already been defined`, `the first one is ${singletons.get(el.type)!.name} (line ${diags.line(singletons.get(el.type)!.nameLoc)})`);
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
    diags.error(last ?? fn.node, `Missing default verdict at the end of this Filter (${p.fn} is pushed onto a chain)`,
      "end the Filter with a plain 'accept' or 'drop'");
  }
  fc.findRecursion();

  // 6. warnings
  const used = new Set<string>(ec.pushes.map((p) => p.fn));
  for (const fn of fc.functions.values()) for (const c of fn.calls) used.add(c.name);
  for (const f of fnNodes) {
    if (!used.has(f.name)) diags.warn(tok(f.node.nameAt, f.name.length), `Function ${f.name} is defined but never used`, 'push it onto a chain or call it from another function');
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
  for (const fn of fc.functions.values()) model.writtenRules += writtenRules(fn.body);
  for (const f of fnNodes) {
    model.functions[f.name] = {
      name: f.name, type: f.type, subtype: f.subtype, body: fc.instantiate(f.name, model.rules), loc: diags.loc(f.node.nameAt),
    };
  }
  return model;
}

/** Rules of a checked body as the user counts them (see Model.writtenRules). */
function writtenRules(body: Tmpl[]): number {
  let n = 0;
  let inRun = false;
  for (const t of body) {
    if (t.k === 'if' || t.k === 'block') {
      inRun = false;
      n += writtenRules(t.k === 'if' ? t.then : t.body) + (t.k === 'if' && t.else ? writtenRules(t.else) : 0);
    } else if (!inRun) {
      inRun = true;
      n++;
    }
  }
  return n;
}

function applyAssignment(a: ItemNode & { kind: 'assign' }, res: Resolver, diags: Diagnostics): void {
  const path = a.path;
  const pathLoc = { at: a.pathAt, end: a.pathEnd };
  const el = res.elements.get(path[0]);
  const full = nameText(path);
  if (!el) {
    diags.error(pathLoc, `No element with the name ${path[0]} exists`, didYouMean(path[0], res.elements.keys()));
    return;
  }
  if (el.kind === 'function') {
    diags.error(pathLoc, `A function (${el.name}) does not have any named attributes`);
    return;
  }
  const word = el.value ? wordOf(el.value) : null;
  if (el.type === 'iface' && el.value && word !== null && !res.elements.has(word)) {
    // `Iface eth0 dhcp` + `eth0.index: 0`: the configuration word becomes the config member.
    const w = el.value;
    el.value = { kind: 'object', pairs: [{ key: 'config', keyAt: w.at, value: w, at: w.at, end: w.end }], at: w.at, end: w.end };
  }
  let cur: Value | null = el.value;
  for (let i = 1; i < path.length; i++) {
    if (cur && cur.kind === 'name') cur = res.deref(cur);
    if (!cur) return;
    if (cur.kind !== 'object') {
      const owner = nameText(path.slice(0, i));
      if (el.type === 'gateway' && i === 1 && cur.kind === 'list') diags.error(pathLoc, `Trying to access a named member in a Gateway without named members (${full})`);
      else diags.error(pathLoc, `${owner} must be an object to set ${full}`);
      return;
    }
    const ci = el.ciKeys || i > 1;
    const p = findPair(cur, path[i], ci);
    if (i === path.length - 1) {
      if (p) {
        diags.error(pathLoc, `Member ${full} has already been set`, `first set at line ${diags.line(p.keyAt)}`);
        return;
      }
      addPair(cur, { key: path[i], keyAt: a.pathAt, value: a.value, at: a.at, end: a.end });
      return;
    }
    if (!p) {
      diags.error(pathLoc, `Trying to add to a member (${nameText(path.slice(0, i + 1))}) that doesn't exist`);
      return;
    }
    cur = p.value;
  }
}
