// RFC 5424 syslog messages for `syslog(...)` / `log(...)` actions and router events.
// Messages are built as bytes ready for a UDP payload; the router sends them through its own
// stack. Facility is user-level (1); severity is the RFC 5424 number (0 emerg .. 7 debug).

const FACILITY_USER = 1;
const encoder = new TextEncoder();

/** Characters RFC 5424 allows in header fields: printable US-ASCII, no space. */
function headerField(s: string, max: number): string {
  const clean = s.replace(/[^\x21-\x7e]/g, '');
  return clean.length === 0 ? '-' : clean.slice(0, max);
}

export interface SyslogHeader {
  hostname: string;
  appName: string;
  procId: string | number;
}

/** `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG` as UTF-8 bytes (with BOM-less MSG). */
export function formatSyslog(h: SyslogHeader, severity: number, msgId: string, message: string, now: Date = new Date()): Uint8Array {
  const sev = Math.min(7, Math.max(0, severity | 0));
  const pri = FACILITY_USER * 8 + sev;
  const line = `<${pri}>1 ${now.toISOString()} ${headerField(h.hostname, 255)} ${headerField(h.appName, 48)} ` +
    `${headerField(String(h.procId), 128)} ${headerField(msgId, 32)} - ${message}`;
  return encoder.encode(line);
}
