// The control socket of a running router: a Unix stream socket speaking JSON lines. A request
// is one line ({"cmd": "...", ...}); its answer is any number of progress lines
// ({"progress": "..."}) and text chunks ({"chunk": "..."}), then one final line
// ({"ok": true, "result": ...} or {"ok": false, "error": "..."}). Requests on one connection are
// answered in order. Long work (a reload) sends progress, and a big answer (`show` at 100,000
// rules) streams in chunks made between packet batches, so the client's timeout is an idle
// timeout, not a limit on the whole answer. `nacl-router ctl` is the client; the socket is
// removed when the router stops.
import { createServer, createConnection, type Server, type Socket } from 'node:net';
import { existsSync, unlinkSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export const DEFAULT_CTL = '/run/nacl-router/ctl.sock';

/** A streamed answer: its chunks are sent as they come, then `result` (if any) ends it. */
export interface CtlStream {
  stream: AsyncIterable<string>;
  result?: unknown;
}

export type CtlHandler = (cmd: string, args: Record<string, unknown>, progress: (text: string) => void) => unknown;

function isStream(v: unknown): v is CtlStream {
  return typeof v === 'object' && v !== null && 'stream' in v && typeof (v as CtlStream).stream[Symbol.asyncIterator] === 'function';
}

function send(sock: Socket, obj: unknown): Promise<void> {
  if (sock.destroyed) return Promise.resolve();
  return sock.write(JSON.stringify(obj) + '\n') ? Promise.resolve() : new Promise((r) => {
    const done = () => { sock.off('drain', done); sock.off('close', done); r(); };
    sock.on('drain', done);
    sock.on('close', done);
  });
}

async function answer(sock: Socket, line: string, handler: CtlHandler): Promise<void> {
  let reply: unknown;
  try {
    const req = JSON.parse(line) as { cmd?: unknown };
    if (typeof req.cmd !== 'string') throw new Error('request needs "cmd"');
    let out = handler(req.cmd, req as Record<string, unknown>, (text) => { void send(sock, { progress: text }); });
    if (out instanceof Promise) out = await out;
    if (isStream(out)) {
      for await (const chunk of out.stream) {
        if (sock.destroyed) return;
        await send(sock, { chunk });
      }
      out = out.result ?? null;
    }
    reply = { ok: true, result: out };
  } catch (e) {
    reply = { ok: false, error: (e as Error).message };
  }
  await send(sock, reply);
}

export function serveCtl(path: string, handler: CtlHandler): Server {
  mkdirSync(dirname(path), { recursive: true });
  if (existsSync(path)) {
    try { unlinkSync(path); } catch { /* in use elsewhere: listen reports it */ }
  }
  const server = createServer((sock) => {
    let buf = '';
    let chain = Promise.resolve();
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.length > 65536) { sock.destroy(); return; }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        chain = chain.then(() => answer(sock, line, handler));
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

export interface CtlRequestOptions {
  /** Give up after this long without any line from the router (default 5 s). */
  idleMs?: number;
  onProgress?: (text: string) => void;
  /** Streamed text; without it chunks are collected and returned as the result. */
  onChunk?: (text: string) => void;
}

/** Send one request and return the result (throws on error answers). A number as the third
 *  argument is the idle timeout. */
export function ctlRequest(path: string, req: Record<string, unknown>, options: number | CtlRequestOptions = {}): Promise<unknown> {
  const o: CtlRequestOptions = typeof options === 'number' ? { idleMs: options } : options;
  const idleMs = o.idleMs ?? 5000;
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    const chunks: string[] = [];
    let timer = setTimeout(() => expire(), idleMs);
    const expire = () => { sock.destroy(); reject(new Error(`no answer from ${path} for ${Math.round(idleMs / 1000)} s`)); };
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    sock.on('data', (d: string) => {
      buf += d;
      clearTimeout(timer);
      timer = setTimeout(() => expire(), idleMs);
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let r: { ok?: boolean; result?: unknown; error?: string; progress?: string; chunk?: string };
        try {
          r = JSON.parse(line) as typeof r;
        } catch (e) {
          clearTimeout(timer);
          sock.destroy();
          reject(e as Error);
          return;
        }
        if (r.progress !== undefined) { o.onProgress?.(r.progress); continue; }
        if (r.chunk !== undefined) {
          if (o.onChunk) o.onChunk(r.chunk); else chunks.push(r.chunk);
          continue;
        }
        clearTimeout(timer);
        sock.end();
        if (!r.ok) reject(new Error(r.error ?? 'error'));
        else resolve(chunks.length && (r.result === null || r.result === undefined) ? chunks.join('') : r.result);
        return;
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? `no router listening on ${path}` : e.message));
    });
  });
}
