// Typed elements: Iface, Gateway, Conntrack, Syslog, Timer and Load_balancer values checked
// against Part B's attribute tables (plus nacl-router's Part A3 rejections) and turned into
// their Model records. Values arrive merged with their dotted assignments (see values.ts).

import type { Pair, Span, Value } from '../../grammar/ast.js';
import {
  HOOKS, type ConntrackModel, type CtTimeouts, type GatewayModel, type Hook, type IfaceModel,
  type LoadBalancerModel, type RouteModel, type SyslogModel, type TimerModel,
} from './model.js';
import { didYouMean, type Diagnostics } from './diagnostics.js';
import { describeValue, keySpan, STATIC_CTX, wordOf, type Element, type Resolver } from './values.js';
import { formatIpv4, maskPrefix } from '../../stack/wire/ipv4.js';
import type { CheckedFunction } from './functions.js';

const IFACE_KEYS = ['index', 'address', 'netmask', 'gateway', 'dns', 'config', 'vlan', 'masquerade',
  'send_queue_limit', 'buffer_limit', 'prerouting', 'input', 'output', 'postrouting'];
const ROUTE_KEYS = ['host', 'net', 'netmask', 'nexthop', 'iface', 'cost'];
const CT_KEYS = ['limit', 'reserve', 'stateful_tcp', 'timeout'];
const CT_STATES = ['established', 'unconfirmed', 'confirmed'] as const;
const CT_PROTOS = ['tcp', 'udp', 'icmp'] as const;
const TIMER_DATA = ['timestamp', 'stats', 'memory', 'cpu', 'lb', 'stack-sampling', 'timers'];
const CONFIGS = ['dhcp', 'dhcp-with-fallback', 'static'] as const;

/** A function pushed onto a chain, kept for the push checks and the unused-function warning. */
export interface Push {
  fn: string;
  loc: Span;
  chain: 'iface' | 'forward';
}

export class ElementChecker {
  readonly pushes: Push[] = [];
  /** Iface names used by a route or a Load_balancer. */
  readonly ifaceUsers = new Set<string>();
  private readonly ifaceVlan = new Map<string, boolean>();

  constructor(
    private readonly res: Resolver,
    private readonly diags: Diagnostics,
    private readonly functions: Map<string, CheckedFunction>,
  ) {}

  // ---- value helpers

  /** The members of an element or nested object value; duplicate keys (after case folding
   *  where keys are case-insensitive) are reported. */
  private members(obj: Value & { kind: 'object' }, ci: boolean, owner: string): Map<string, Pair> {
    const out = new Map<string, Pair>();
    for (const p of obj.pairs) {
      const k = ci ? p.key.toLowerCase() : p.key;
      if (out.has(k)) this.diags.error(keySpan(p), `Member ${owner}.${p.key} has already been set`);
      else out.set(k, p);
    }
    return out;
  }

  private addr(v: Value, what: string): number | null {
    const r = this.res.resolve(v, STATIC_CTX);
    if (r.t === 'err') return null;
    if (r.t === 'num' && r.k === 'addr') return r.v;
    this.diags.error(v, `Invalid value of ${what} (${describeValue(v)}): expected an IPv4 address`);
    return null;
  }

  private int(v: Value, what: string, min: number, max: number): number | null {
    const r = this.res.resolve(v, STATIC_CTX);
    if (r.t === 'err') return null;
    if (r.t === 'num' && (r.k === 'int' || r.k === 'word') && Number.isInteger(r.v) && r.v >= min && r.v <= max) return r.v;
    this.diags.error(v, `Invalid value of ${what} (${describeValue(v)}): expected an integer from ${min} to ${max}`);
    return null;
  }

  private bool(v: Value, msg: string): boolean | null {
    const r = this.res.resolve(v, STATIC_CTX);
    if (r.t === 'err') return null;
    if (r.t === 'bool') return r.v;
    this.diags.error(v, msg);
    return null;
  }

  /** A bare word (after following constants), lower-cased; null if the value is not one. */
  private word(v: Value): string | null {
    const d = this.res.deref(v);
    return d ? (wordOf(d)?.toLowerCase() ?? null) : null;
  }

  /** The members of a typed element whose value must be an object, or null (reported). */
  private elementMembers(el: Element, caseInsensitive: boolean): Map<string, Pair> | null {
    const v = this.object(el.value!);
    if (!v) {
      this.diags.error(el.value!, `${el.name} must be an object`);
      return null;
    }
    return this.members(v, caseInsensitive, el.name);
  }

  private object(v: Value): (Value & { kind: 'object' }) | null {
    const d = this.res.deref(v);
    return d && d.kind === 'object' ? d : null;
  }

  private fnList(v: Value, what: string): Array<{ name: string; loc: Span }> {
    const items = v.kind === 'list' ? v.items : [v];
    const out: Array<{ name: string; loc: Span }> = [];
    for (const it of items) {
      if (wordOf(it) === null) {
        this.diags.error(it, `This is not supported: ${describeValue(it)} (${what} takes a function name or a list of function names)`);
        continue;
      }
      const name = wordOf(it)!;
      if (!this.functions.has(name)) {
        this.diags.error(it, `No function with the name ${name} exists`, didYouMean(name, this.functions.keys()));
        continue;
      }
      out.push({ name, loc: it });
    }
    return out;
  }

  private pushCheck(fns: Array<{ name: string; loc: Span }>, chain: 'iface' | 'forward'): string[] {
    const out: string[] = [];
    for (const { name, loc } of fns) {
      const fn = this.functions.get(name)!;
      this.pushes.push({ fn: name, loc, chain });
      if (fn.type === 'nat' && chain === 'forward') {
        this.diags.error(loc, "A Nat function cannot be pushed onto a Gateway's forward chain");
        continue;
      }
      if (fn.type === 'filter' && fn.subtype !== 'ip') {
        this.diags.error(loc, `Only a function of subtype IP can be pushed onto ${chain === 'forward' ? "a Gateway's forward chain" : "an Iface's chain"}. However, you can create and call Filters of any subtype inside an IP Filter`);
        continue;
      }
      out.push(name);
    }
    return out;
  }

  // ---- Iface

  iface(el: Element, seenIndex: Map<string, Span>): IfaceModel | null {
    let v = el.value!;
    const d = this.res.deref(v);
    if (d) v = d;
    let m: Map<string, Pair>;
    let configWord: { word: string; loc: Span } | null = null;
    if (v.kind === 'object') m = this.members(v, true, el.name);
    else if (wordOf(v) !== null) {
      m = new Map();
      configWord = { word: wordOf(v)!.toLowerCase(), loc: v };
    } else {
      this.diags.error(v, 'An Iface has to contain key value pairs, or be set to a configuration type (dhcp, dhcp-with-fallback, static)');
      return null;
    }
    for (const [k, p] of m) {
      if (!IFACE_KEYS.includes(k)) this.diags.error(keySpan(p), `Invalid Iface member ${p.key}`, didYouMean(k, IFACE_KEYS));
    }
    const model: IfaceModel = {
      name: el.name, index: 0, vlan: null, config: 'static', address: null, netmask: null, gateway: null, dns: null,
      masquerade: false, sendQueueLimit: null, bufferLimit: null,
      chains: { prerouting: [], input: [], output: [], postrouting: [] }, loc: this.diags.loc(el.nameLoc),
    };
    let ok = true;
    const cfg = m.get('config');
    if (cfg) {
      const w = this.word(cfg.value);
      if (w && (CONFIGS as readonly string[]).includes(w)) model.config = w as IfaceModel['config'];
      else {
        this.diags.error(cfg.value, `Invalid config value ${describeValue(cfg.value)}`, didYouMean(w ?? '', CONFIGS));
        ok = false;
      }
    } else if (configWord) {
      if ((CONFIGS as readonly string[]).includes(configWord.word)) model.config = configWord.word as IfaceModel['config'];
      else {
        this.diags.error(configWord.loc, `Invalid Iface value ${configWord.word}`, didYouMean(configWord.word, CONFIGS));
        ok = false;
      }
    }
    const index = m.get('index');
    if (!index) {
      this.diags.error(el.nameLoc, 'An index needs to be specified for all Ifaces');
      ok = false;
    } else {
      const d2 = this.res.deref(index.value);
      if (d2 && d2.kind === 'string') {
        const mac = d2.value.trim().toLowerCase();
        if (/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)) model.index = { mac };
        else {
          this.diags.error(index.value, `Invalid index value ${describeValue(d2)}: expected a link number or a MAC address "aa:bb:cc:dd:ee:ff"`);
          ok = false;
        }
      } else {
        const n = this.int(index.value, 'Iface member index', 0, 65535);
        if (n === null) ok = false;
        else model.index = n;
      }
    }
    const vlan = m.get('vlan');
    if (vlan) {
      const n = this.int(vlan.value, 'Iface member vlan', 1, 4094);
      if (n === null) ok = false;
      else model.vlan = n;
    }
    for (const key of ['address', 'netmask', 'gateway', 'dns'] as const) {
      const p = m.get(key);
      if (!p) continue;
      const a = this.addr(p.value, `Iface member ${key}`);
      if (a === null) ok = false;
      else model[key] = a;
    }
    const masq = m.get('masquerade');
    if (masq) {
      const b = this.bool(masq.value, 'Invalid masquerade value. Must be set to true or false');
      if (b === null) ok = false;
      else model.masquerade = b;
    }
    for (const [key, field] of [['send_queue_limit', 'sendQueueLimit'], ['buffer_limit', 'bufferLimit']] as const) {
      const p = m.get(key);
      if (!p) continue;
      if (model.vlan !== null) {
        this.diags.error(keySpan(p), 'The members send_queue_limit and buffer_limit can not be set on an Iface that is a vlan');
        ok = false;
        continue;
      }
      const n = this.int(p.value, `Iface member ${key}`, 0, 0x7fffffff);
      if (n === null) ok = false;
      else model[field] = n;
    }
    for (const hook of HOOKS) {
      const p = m.get(hook);
      if (!p) continue;
      model.chains[hook as Hook] = this.pushCheck(this.fnList(p.value, `${el.name}.${hook}`), 'iface');
    }
    if (model.vlan !== null) {
      if (model.config === 'dhcp') {
        const given = (['address', 'netmask', 'gateway', 'dns'] as const).filter((k) => m.has(k));
        if (given.length) {
          this.diags.error(keySpan(m.get(given[0])!), 'An Iface with config set to dhcp should not specify address, netmask, gateway or dns');
          ok = false;
        }
      } else if (!m.has('address') || !m.has('netmask')) {
        this.diags.error(el.nameLoc, "The members address and netmask must be set for every Iface if the Iface configuration hasn't been set to dhcp");
        ok = false;
      }
    }
    if (model.config === 'dhcp-with-fallback' && (!m.has('address') || !m.has('netmask'))) {
      this.diags.error(el.nameLoc, `Iface ${el.name} uses config dhcp-with-fallback but has no fallback ${m.has('address') ? 'netmask' : 'address'}`,
        'set both address and netmask (used when DHCP gets no lease within 10 s)');
      ok = false;
    } else if (model.config === 'static' && m.has('address') !== m.has('netmask')) {
      const has = m.has('address') ? 'address' : 'netmask';
      this.diags.error(keySpan(m.get(has)!), `Iface ${el.name} has ${has === 'address' ? 'an address but no netmask' : 'a netmask but no address'}`,
        `set ${has === 'address' ? 'netmask' : 'address'} too (the reference generated code that could not compile)`);
      ok = false;
    }
    if (index && ok && model.vlan === null) {
      const key = typeof model.index === 'number' ? String(model.index) : `mac ${model.index.mac}`;
      if (seenIndex.has(key)) {
        this.diags.error(index.value, `Another Iface has been defined with index ${typeof model.index === 'number' ? model.index : JSON.stringify(model.index.mac)}`);
        ok = false;
      } else seenIndex.set(key, index.value);
    }
    this.ifaceVlan.set(el.name, model.vlan !== null);
    return ok ? model : null;
  }

  // ---- Gateway

  gateway(el: Element, ifaces: Map<string, Element>): GatewayModel | null {
    const v = this.res.deref(el.value!);
    if (!v) return null;
    const model: GatewayModel = { name: el.name, routes: [], forward: [], sendTimeExceeded: true, loc: this.diags.loc(el.nameLoc) };
    let ok = true;
    const routeValues: Array<{ name: string | null; value: Value; loc: Span }> = [];
    if (v.kind === 'list') {
      for (const it of v.items) {
        const o = this.object(it);
        if (!o) {
          this.diags.error(it, 'A Gateway that constitutes a list must be a list of objects (containing key value pairs)');
          ok = false;
        } else routeValues.push({ name: null, value: o, loc: it });
      }
    } else if (v.kind === 'object') {
      const m = this.members(v, true, el.name);
      for (const [k, p] of m) {
        if (k === 'send_time_exceeded') {
          const b = this.bool(p.value, `Invalid value of send_time_exceeded (${describeValue(p.value)}). Must be set to true or false`);
          if (b === null) ok = false;
          else model.sendTimeExceeded = b;
        } else if (k === 'forward') {
          model.forward = this.pushCheck(this.fnList(p.value, `${el.name}.forward`), 'forward');
        } else {
          const o = this.object(p.value);
          if (!o) {
            this.diags.error(keySpan(p), `Invalid Gateway member ${p.key}`,
              didYouMean(k, ['send_time_exceeded', 'forward']) ?? 'a route must be an object { net, netmask, iface, ... }');
            ok = false;
          } else routeValues.push({ name: k, value: o, loc: keySpan(p) });
        }
      }
    } else {
      this.diags.error(v, 'A Gateway must contain key value pairs (in which each pair\'s value is an object), or it must contain a list of objects');
      return null;
    }
    let vlanKind: boolean | null = null;
    const seen = new Map<string, RouteModel>();
    for (const rv of routeValues) {
      const r = this.route(rv.name, rv.value as Value & { kind: 'object' }, rv.loc, ifaces);
      if (!r) {
        ok = false;
        continue;
      }
      const isVlan = this.ifaceVlan.get(r.iface) ?? false;
      if (vlanKind === null) vlanKind = isVlan;
      else if (vlanKind !== isVlan) {
        this.diags.error(rv.loc, "All iface members in a Gateway's routes must be of the same type (either only Ifaces with the vlan member set or only regular Ifaces)");
        ok = false;
      }
      const key = `${r.net}/${r.prefix}`;
      const prev = seen.get(key);
      if (prev) {
        this.diags.warn(rv.loc, `Route ${r.name ?? `to ${formatIpv4(r.net)}/${r.prefix}`} is shadowed by an identical earlier route (line ${prev.loc.line}) and is never used`);
      } else seen.set(key, r);
      model.routes.push(r);
    }
    return ok ? model : null;
  }

  private route(name: string | null, o: Value & { kind: 'object' }, loc: Span, ifaces: Map<string, Element>): RouteModel | null {
    const m = this.members(o, true, name ?? 'route');
    let ok = true;
    for (const [k, p] of m) {
      if (!ROUTE_KEYS.includes(k)) {
        this.diags.error(keySpan(p), `${p.key} is not a valid Gateway route member. Valid members are: ${ROUTE_KEYS.join(', ')}`, didYouMean(k, ROUTE_KEYS));
        ok = false;
      }
    }
    const dest = m.get('net') ?? m.get('host');
    const maskP = m.get('netmask');
    const ifaceP = m.get('iface');
    if (!dest || !maskP || !ifaceP) {
      this.diags.error(loc, 'A Gateway route must specify iface, netmask and either net or host');
      return null;
    }
    if (m.has('net') && m.has('host')) {
      this.diags.error(keySpan(m.get('host')!), 'A Gateway route must not specify both net and host');
      ok = false;
    }
    let iface = '';
    const iv = ifaceP.value;
    const ivName = wordOf(iv);
    if (ivName !== null) {
      if (ifaces.has(ivName)) iface = ivName;
      else {
        this.diags.error(iv, `No Iface with the name ${ivName} exists`, didYouMean(ivName, ifaces.keys()));
        ok = false;
      }
    } else {
      this.diags.error(iv, `Gateway route member iface contains an invalid value (${describeValue(iv)})`);
      ok = false;
    }
    const net = this.addr(dest.value, `Gateway route member ${m.has('net') ? 'net' : 'host'}`);
    const mask = this.addr(maskP.value, 'Gateway route member netmask');
    const nh = m.get('nexthop');
    const nexthop = nh ? this.addr(nh.value, 'Gateway route member nexthop') : 0;
    const costP = m.get('cost');
    const cost = costP ? this.int(costP.value, 'Gateway route member cost', 0, 0x7fffffff) : 1;
    if (net === null || mask === null || nexthop === null || cost === null || !ok) return null;
    const prefix = maskPrefix(mask);
    if (prefix < 0) {
      this.diags.error(maskP.value, `Netmask ${formatIpv4(mask)} is not contiguous (a route needs a prefix mask such as 255.255.255.0)`);
      return null;
    }
    if (iface) this.ifaceUsers.add(iface);
    return { name, net: (net & mask) >>> 0, netmask: mask, prefix, nexthop, iface, cost, loc: this.diags.loc(loc) };
  }

  // ---- Conntrack

  conntrack(el: Element, out: ConntrackModel): boolean {
    const m = this.elementMembers(el, false);
    if (!m) return false;
    let ok = true;
    out.declared = true;
    out.loc = this.diags.loc(el.nameLoc);
    for (const [k, p] of m) {
      switch (k) {
        case 'limit': case 'reserve': {
          const n = this.int(p.value, `Conntrack member ${k}`, 0, 0x7fffffff);
          if (n === null) ok = false;
          else out[k] = n;
          break;
        }
        case 'stateful_tcp': {
          const b = this.bool(p.value, 'Invalid value of Conntrack member stateful_tcp. Must be set to true or false');
          if (b === null) ok = false;
          else out.statefulTcp = b;
          break;
        }
        case 'timeout': {
          const t = this.object(p.value);
          if (!t) {
            this.diags.error(p.value, 'Invalid timeout value of Conntrack (needs to be an object)');
            ok = false;
            break;
          }
          for (const [sk, sp] of this.members(t, false, `${el.name}.timeout`)) {
            if (!(CT_STATES as readonly string[]).includes(sk)) {
              this.diags.error(keySpan(sp), `Invalid Conntrack member ${sp.key} in ${el.name}.timeout`, didYouMean(sk, CT_STATES));
              ok = false;
              continue;
            }
            const so = this.object(sp.value);
            if (!so) {
              this.diags.error(sp.value, `Invalid ${sk} value of Conntrack (needs to be an object)`);
              ok = false;
              continue;
            }
            for (const [pk, pp] of this.members(so, false, `${el.name}.timeout.${sk}`)) {
              if (!(CT_PROTOS as readonly string[]).includes(pk)) {
                this.diags.error(keySpan(pp), `Invalid Conntrack member ${pp.key} in ${el.name}.timeout.${sk}`, didYouMean(pk, CT_PROTOS));
                ok = false;
                continue;
              }
              const n = this.int(pp.value, `Conntrack timeout ${sk}.${pk}`, 1, 0x7fffffff);
              if (n === null) ok = false;
              else out.timeout[sk as (typeof CT_STATES)[number]][pk as keyof CtTimeouts] = n;
            }
          }
          break;
        }
        default:
          this.diags.error(keySpan(p), `Invalid Conntrack member ${p.key}`, didYouMean(k, CT_KEYS));
          ok = false;
      }
    }
    return ok;
  }

  // ---- Syslog

  syslog(el: Element): SyslogModel | null {
    const m = this.elementMembers(el, false);
    if (!m) return null;
    let ok = true;
    for (const [k, p] of m) {
      if (k !== 'address' && k !== 'port') {
        this.diags.error(keySpan(p), `Invalid Syslog member ${p.key}`, didYouMean(k, ['address', 'port']));
        ok = false;
      }
    }
    const a = m.get('address');
    const p = m.get('port');
    if (!a || !p) {
      this.diags.error(el.nameLoc, 'Syslog address and/or port have not been specified');
      return null;
    }
    const address = this.addr(a.value, 'Syslog member address');
    const port = this.int(p.value, 'Syslog member port', 1, 65535);
    if (address === null || port === null || !ok) return null;
    return { name: el.name, address, port, loc: this.diags.loc(el.nameLoc) };
  }

  // ---- Timer

  timer(el: Element): TimerModel | null {
    const m = this.elementMembers(el, true);
    if (!m) return null;
    let ok = true;
    let interval: number | null = null;
    const data: string[] = [];
    for (const [k, p] of m) {
      if (k === 'interval') {
        const r = this.res.resolve(p.value, STATIC_CTX);
        if (r.t === 'err') ok = false;
        else if (r.t === 'num' && r.k === 'int' && r.v > 0) interval = r.v;
        else {
          this.diags.error(p.value, `Invalid interval value (${describeValue(p.value)}). It needs to resolve to a positive number (number of seconds)`);
          ok = false;
        }
      } else if (k === 'data') {
        const d = this.res.deref(p.value);
        if (!d || d.kind !== 'list') {
          this.diags.error(p.value, `Invalid data value. It needs to be a list containing one or more of these values: ${TIMER_DATA.join(', ')}`);
          ok = false;
          continue;
        }
        for (const it of d.items) {
          const w = wordOf(it)?.toLowerCase() ?? null;
          if (w && TIMER_DATA.includes(w)) data.push(w);
          else {
            this.diags.error(it, `Invalid data value (${describeValue(it)}). Valid values are: ${TIMER_DATA.join(', ')}`, didYouMean(w ?? '', TIMER_DATA));
            ok = false;
          }
        }
      } else {
        this.diags.error(keySpan(p), `Invalid Timer member ${p.key}`, didYouMean(k, ['interval', 'data']));
        ok = false;
      }
    }
    if (ok && interval === null) {
      this.diags.error(el.nameLoc, `Timer ${el.name} has no interval`, 'add interval: SECONDS (the reference generated code that could not compile)');
      ok = false;
    }
    return ok && interval !== null ? { name: el.name, interval, data, loc: this.diags.loc(el.nameLoc) } : null;
  }

  // ---- Load_balancer

  loadBalancer(el: Element, ifaces: Map<string, Element>): LoadBalancerModel | null {
    const m = this.elementMembers(el, false);
    if (!m) return null;
    let ok = true;
    for (const [k, p] of m) {
      if (!['layer', 'clients', 'servers'].includes(k)) {
        this.diags.error(keySpan(p), `Invalid Load_balancer member ${p.key}`, didYouMean(k, ['layer', 'clients', 'servers']));
        ok = false;
      }
    }
    const missing = (what: string): null => {
      this.diags.error(el.nameLoc, `Load_balancer member ${what} has not been set`);
      ok = false;
      return null;
    };
    const layer = m.get('layer');
    if (!layer) missing('layer');
    else if (this.word(layer.value) !== 'tcp') {
      this.diags.error(layer.value, `Invalid layer value (${describeValue(layer.value)})`, "the only layer is 'tcp'");
      ok = false;
    }
    const part = (key: 'clients' | 'servers', allowed: string[]): Map<string, Pair> | null => {
      const p = m.get(key);
      if (!p) return missing(key);
      const o = this.object(p.value);
      if (!o) {
        this.diags.error(p.value, `Invalid ${key} value. It needs to be an object containing ${allowed.join(', ')}`);
        ok = false;
        return null;
      }
      const mm = this.members(o, true, `${el.name}.${key}`);
      for (const [k, pp] of mm) {
        if (!allowed.includes(k)) {
          this.diags.error(keySpan(pp), `Invalid Load_balancer member ${pp.key} in ${el.name}.${key}`, didYouMean(k, allowed));
          ok = false;
        }
      }
      return mm;
    };
    const ifaceOf = (mm: Map<string, Pair>, key: string): string => {
      const p = mm.get('iface');
      if (!p) return missing(`${key}.iface`) ?? '';
      const w = wordOf(p.value);
      if (!w || !ifaces.has(w)) {
        this.diags.error(p.value, `Load_balancer member iface contains an invalid value (${describeValue(p.value)})`,
          w ? didYouMean(w, ifaces.keys()) : undefined);
        ok = false;
        return '';
      }
      this.ifaceUsers.add(w);
      return w;
    };
    const cl = part('clients', ['iface', 'port', 'wait_queue_limit', 'session_limit']);
    const sv = part('servers', ['iface', 'algorithm', 'pool']);
    const model: LoadBalancerModel = {
      name: el.name, layer: 'tcp',
      clients: { iface: '', port: 0, waitQueueLimit: 1000, sessionLimit: 1000 },
      servers: { iface: '', algorithm: 'round_robin', pool: [] },
      loc: this.diags.loc(el.nameLoc),
    };
    if (cl) {
      model.clients.iface = ifaceOf(cl, 'clients');
      const port = cl.get('port');
      if (!port) missing('clients.port');
      else model.clients.port = this.int(port.value, 'Load_balancer member clients.port', 1, 65535) ?? (ok = false, 0);
      for (const [k, f] of [['wait_queue_limit', 'waitQueueLimit'], ['session_limit', 'sessionLimit']] as const) {
        const p = cl.get(k);
        if (p) model.clients[f] = this.int(p.value, `Load_balancer member clients.${k}`, 0, 0x7fffffff) ?? (ok = false, 0);
      }
    }
    if (sv) {
      model.servers.iface = ifaceOf(sv, 'servers');
      const alg = sv.get('algorithm');
      if (!alg) missing('servers.algorithm');
      else if (this.word(alg.value) !== 'round_robin') {
        this.diags.error(alg.value, `Invalid algorithm ${describeValue(alg.value)}`, "the only algorithm is 'round_robin'");
        ok = false;
      }
      const pool = sv.get('pool');
      if (!pool) missing('servers.pool');
      else {
        const list = this.res.deref(pool.value);
        if (!list || list.kind !== 'list') {
          this.diags.error(pool.value, `Invalid pool value ${describeValue(pool.value)}: expected a list of { address, port } objects`);
          ok = false;
        } else {
          list.items.forEach((it, i) => {
            const o = this.object(it);
            if (!o) {
              this.diags.error(it, `Invalid pool value ${describeValue(it)}: expected an object { address, port }`);
              ok = false;
              return;
            }
            const nm = this.members(o, true, `node ${i}`);
            for (const [k, p] of nm) {
              if (k !== 'address' && k !== 'port') {
                this.diags.error(keySpan(p), `Invalid member ${p.key} in node ${i} in servers.pool`, didYouMean(k, ['address', 'port']));
                ok = false;
              }
            }
            const a = nm.get('address');
            const p = nm.get('port');
            if (!a || !p) {
              this.diags.error(it, 'An object in a pool needs to specify address, port');
              ok = false;
              return;
            }
            const address = this.addr(a.value, 'pool node address');
            const port = this.int(p.value, 'pool node port', 1, 65535);
            if (address === null || port === null) ok = false;
            else model.servers.pool.push({ address, port });
          });
        }
      }
    }
    return ok ? model : null;
  }
}
