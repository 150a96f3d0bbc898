// Drop reasons: small integers shared by the wire views (check()) and the stack (counters).
// REASON_NAMES[r] is the stable name used by `show`, metrics and tests. 0 means "no drop".

export const OK = 0;
// Wire validation.
export const ETH_TRUNCATED = 1;
export const VLAN_TRUNCATED = 2;
export const ARP_TRUNCATED = 3;
export const ARP_UNSUPPORTED = 4;
export const IP_TRUNCATED = 5;
export const IP_BAD_VERSION = 6;
export const IP_BAD_IHL = 7;
export const IP_BAD_TOTAL_LENGTH = 8;
export const IP_BAD_CHECKSUM = 9;
export const ICMP_TRUNCATED = 10;
export const UDP_TRUNCATED = 11;
export const UDP_BAD_LENGTH = 12;
export const TCP_TRUNCATED = 13;
export const TCP_BAD_DATA_OFFSET = 14;
export const L4_BAD_CHECKSUM = 15;
// Stack decisions.
export const ETHERTYPE_IPV6 = 16;
export const ETHERTYPE_OTHER = 17;
export const VLAN_UNKNOWN = 18;
export const NOT_OUR_MAC = 19;
export const ARP_NOT_FOR_US = 20;
export const IP_BAD_SOURCE = 21;
export const CONN_TRACK = 22;
export const CHAIN_PREROUTING = 23;
export const CHAIN_INPUT = 24;
export const CHAIN_FORWARD = 25;
export const CHAIN_OUTPUT = 26;
export const CHAIN_POSTROUTING = 27;
export const CONN_FINISH = 28;
export const NO_ROUTE = 29;
export const TTL_EXCEEDED = 30;
export const ARP_QUEUE_FULL = 31;
export const ARP_TIMEOUT = 32;
export const ARP_QUEUE_TOO_BIG = 33;
export const GSO_UNSUPPORTED = 34;
export const LOCAL_FRAGMENT = 35;
export const LOCAL_NO_HANDLER = 36;
export const TX_QUEUE_FULL = 37;
export const TX_FAILED = 38;
export const RX_BUFFER_LIMIT = 39;
export const NO_ADDRESS = 40;
export const TOO_BIG = 41;
export const INTERNAL_ERROR = 42;
export const NEIGHBOR_FULL = 43;
export const DIRECTED_BROADCAST = 44;
export const FORWARD_DISABLED = 45;
export const REASON_COUNT = 46;

export const REASON_NAMES: readonly string[] = [
  'ok', 'eth_truncated', 'vlan_truncated', 'arp_truncated', 'arp_unsupported', 'ip_truncated',
  'ip_bad_version', 'ip_bad_ihl', 'ip_bad_total_length', 'ip_bad_checksum', 'icmp_truncated',
  'udp_truncated', 'udp_bad_length', 'tcp_truncated', 'tcp_bad_data_offset', 'l4_bad_checksum',
  'ethertype_ipv6', 'ethertype_other', 'vlan_unknown', 'not_our_mac', 'arp_not_for_us',
  'ip_bad_source', 'conn_track', 'chain_prerouting', 'chain_input', 'chain_forward',
  'chain_output', 'chain_postrouting', 'conn_finish', 'no_route', 'ttl_exceeded',
  'arp_queue_full', 'arp_timeout', 'arp_queue_too_big', 'gso_unsupported', 'local_fragment',
  'local_no_handler', 'tx_queue_full', 'tx_failed', 'rx_buffer_limit', 'no_address', 'too_big',
  'internal_error', 'neighbor_full', 'directed_broadcast', 'forward_disabled',
];
