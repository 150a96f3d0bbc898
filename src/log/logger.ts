// The router's own log: pino, pretty on a terminal (a serial console included), JSON lines
// otherwise. Pretty printing runs in this thread through a statically imported pino-pretty
// stream, not a pino transport: a transport is resolved by module name in a worker thread,
// which a single-file bundle (the guest image) cannot do. Colours follow NO_COLOR.
import { pino, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';

export type { Logger };

export function createLogger(opts: { level?: string; pretty?: boolean } = {}): Logger {
  const pretty = opts.pretty ?? Boolean(process.stderr.isTTY);
  const level = opts.level ?? process.env.NACL_LOG_LEVEL ?? 'info';
  if (pretty) {
    const colorize = !process.env.NO_COLOR && Boolean(process.stderr.isTTY);
    return pino({ level, base: undefined }, pinoPretty({ destination: 2, sync: true, colorize, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  }
  return pino({ level, base: undefined }, pino.destination({ dest: 2, sync: true }));
}
