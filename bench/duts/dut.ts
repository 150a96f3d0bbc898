// The device-under-test interface: each DUT connects the client and server namespaces of a
// Topology so that the endpoints see the same L3 picture (see topology.ts), with `rules`
// non-matching forward rules and, with nat, source NAT towards the server. setup() leaves the
// path ready for traffic (ARP may still be unresolved); teardown() removes everything setup made.
import type { Topology } from '../topology.js';
import type { Shape } from '../gen/shapes.js';

export interface SetupOptions {
  rules: number;
  nat: boolean;
  /** Rule shape (gen/shapes.ts); default 'blocklist'. */
  shape?: Shape;
}

export interface SetupInfo {
  /** Milliseconds spent loading the ruleset (iptables-restore, nft -f, router start). */
  loadMs: number;
  /** What the loading step was, for the report. */
  loadWhat: string;
  /** nacl-router: a live reload of the same ruleset (read + check + compile + swap), ms. */
  reloadMs?: number;
}

export interface Dut {
  readonly id: string;
  readonly label: string;
  /** Whether the rule count changes this device (reference forwarders have no rules). */
  readonly usesRules: boolean;
  /** Whether the device tracks connections and can source-NAT. */
  readonly supportsNat: boolean;
  /** null when the device can run here, otherwise why not. */
  available(): Promise<string | null>;
  setup(topo: Topology, opts: SetupOptions): Promise<SetupInfo>;
  teardown(topo: Topology): Promise<void>;
}
