// A build: everything a running router needs from one configuration file, in a form a worker
// thread can hand to the packet thread (typed arrays transferred, counters shared), so the
// packet thread never holds the Model: the wiring (Ifaces, routes, conntrack, NAT, timers),
// the compiled rules as a RulesetPlan, per-rule facts (RuleIndexData) and the `show` layout.
// buildOf() makes one from a checked Model; build-worker.ts runs it off the packet thread.

import type { Model } from '../config/model.js';
import { planRuleset, transferList, type RulesetPlan } from '../../filters/compile.js';
import { ruleIndexData, ruleIndexTransfer, type RuleIndexData } from '../config/rule-index.js';
import { showTemplate, showTransfer, type ShowTemplate } from './show.js';

/** The Model less what only the checker, compiler and `show` read (function bodies, rule list). */
export type RouterConfig = Pick<Model, 'file' | 'ifaces' | 'gateway' | 'conntrack' | 'syslog' | 'timers' | 'loadBalancers' | 'writtenRules'>;

export interface BuildTimings {
  readMs: number;
  parseMs: number;
  checkMs: number;
  compileMs: number;
}

export interface Build {
  /** Numbers the builds of one router (1 = start-up). */
  gen: number;
  config: RouterConfig;
  plan: RulesetPlan;
  rules: RuleIndexData;
  show: ShowTemplate;
  /** Warnings, formatted as `check` prints them ('' for none). */
  warnings: string;
  timings: BuildTimings;
}

export function configOf(m: Model): RouterConfig {
  return {
    file: m.file, ifaces: m.ifaces, gateway: m.gateway, conntrack: m.conntrack, syslog: m.syslog,
    timers: m.timers, loadBalancers: m.loadBalancers, writtenRules: m.writtenRules,
  };
}

/** `trace`: rules compiled with trace events (the `trace` command's router, never a running one). */
export function buildOf(model: Model, gen: number, opts: { shared?: boolean; trace?: boolean; warnings?: string; timings?: Partial<BuildTimings> } = {}): Build {
  const t0 = performance.now();
  const plan = planRuleset(model, { sharedCounters: opts.shared === true, trace: opts.trace === true });
  const rules = ruleIndexData(model);
  const show = showTemplate(model);
  const compileMs = performance.now() - t0;
  return {
    gen, config: configOf(model), plan, rules, show, warnings: opts.warnings ?? '',
    timings: { readMs: 0, parseMs: 0, checkMs: 0, ...opts.timings, compileMs },
  };
}

/** The buffers postMessage can move rather than copy. */
export function buildTransfer(b: Build): ArrayBuffer[] {
  return [...transferList(b.plan), ...ruleIndexTransfer(b.rules), ...showTransfer(b.show)];
}
