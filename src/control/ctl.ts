// The control socket of a running router: a Unix stream socket speaking one JSON request per
// line ({"cmd": "..."}) and answering one JSON line. `nacl-router ctl` is its client.
// Commands: show (ruleset with live per-rule counters), counters, conntrack (table dump),
// reload (re-read the file and swap the rules). The socket is removed when the router stops.
import { createServer, createConnection, type Server } from 'node:net';
import { existsSync, unlinkSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export const DEFAULT_CTL = '/run/nacl-router/ctl.sock';

export type CtlHandler = (cmd: string, args: Record<string, unknown>) => unknown;

export function serveCtl(path: string, handler: CtlHandler): Server {
  mkdirSync(dirname(path), { recursive: true });
  if (existsSync(path)) {
    try { unlinkSync(path); } catch { /* in use elsewhere: listen reports it */ }
  }
  const server = createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.length > 65536) { sock.destroy(); return; }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let reply: unknown;
        try {
          const req = JSON.parse(line) as { cmd?: unknown };
          if (typeof req.cmd !== 'string') throw new Error('request needs "cmd"');
          reply = { ok: true, result: handler(req.cmd, req as Record<string, unknown>) };
        } catch (e) {
          reply = { ok: false, error: (e as Error).message };
        }
        sock.write(JSON.stringify(reply) + '\n');
      }
    });
    sock.on('error', () => { /* client went away */ });
  });
  server.listen(path);
  return server;
}

export function closeCtl(server: Server, path: string): void {
  server.close();
  try { unlinkSync(path); } catch { /* gone */ }
}

/** Send one request and return the result (throws on error answers). */
export function ctlRequest(path: string, req: Record<string, unknown>, timeoutMs = 5000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no answer from ${path}`)); }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      sock.end();
      try {
        const r = JSON.parse(buf.slice(0, nl)) as { ok: boolean; result?: unknown; error?: string };
        if (r.ok) resolve(r.result); else reject(new Error(r.error ?? 'error'));
      } catch (e) {
        reject(e as Error);
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? `no router listening on ${path}` : e.message));
    });
  });
}
