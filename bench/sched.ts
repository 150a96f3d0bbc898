// CPU placement and scheduling for the benchmark's processes. The machine may be shared with
// other work, so every process that carries benchmark traffic gets priority over it:
// 'rt' runs them SCHED_FIFO (the kernel's RT throttling still leaves other tasks 5% of each
// core), 'nice' only raises their CFS weight. On the shared load core the order is: ksoftirqd
// (kernel receive work) above receivers (sink, iperf3 server, ping) above senders, so a busy
// sender never starves the side that counts its packets. Forwarding and receive work that the
// kernel defers to the per-core ksoftirqd threads would otherwise lose to those processes, so
// ksoftirqd on the cores in use is raised for the duration and restored after.
import { readdirSync, readFileSync } from 'node:fs';
import { run } from '../lab/proc.js';

export type SchedPolicy = 'rt' | 'nice';

/** SCHED_FIFO priorities under 'rt'. */
export const RT = { sender: 1, dut: 1, receiver: 2, softirq: 3 } as const;

/** Command prefix: pinned to `cpu`, at raised priority (`rtprio` under 'rt'). */
export function onCpu(cpu: number, policy: SchedPolicy, niceness: number, rtprio: number, cmd: string, args: string[]): [string, string[]] {
  const pin = ['taskset', '-c', String(cpu), cmd, ...args];
  return policy === 'rt' ? ['chrt', ['-f', String(rtprio), ...pin]] : ['nice', ['-n', String(niceness), ...pin]];
}

interface Saved { pid: number; policy: number; rtprio: number; nice: number }

function ksoftirqdPid(cpu: number): number | null {
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/comm`, 'utf8').trim() === `ksoftirqd/${cpu}`) return Number(e);
    } catch { /* the process went away */ }
  }
  return null;
}

function schedOf(pid: number): Saved {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command: state is field 3 of stat, so field N is fields[N - 3].
  return { pid, nice: Number(fields[16]), rtprio: Number(fields[37]), policy: Number(fields[38]) };
}

/** Raises ksoftirqd/<cpu>; returns a function that restores its previous scheduling. */
export async function boostKsoftirqd(cpu: number, policy: SchedPolicy, niceness: number, rtprio: number): Promise<() => Promise<void>> {
  const pid = ksoftirqdPid(cpu);
  if (pid === null) return async () => undefined;
  const saved = schedOf(pid);
  if (policy === 'rt') await run('chrt', ['-f', '-p', String(rtprio), String(pid)], { allowFail: true });
  else await run('renice', ['-n', String(niceness), '-p', String(pid)], { allowFail: true });
  return async () => {
    if (saved.policy === 0) {
      await run('chrt', ['-o', '-p', '0', String(pid)], { allowFail: true });
      await run('renice', ['-n', String(saved.nice), '-p', String(pid)], { allowFail: true });
    } else {
      const flag = saved.policy === 1 ? '-f' : saved.policy === 2 ? '-r' : '-o';
      await run('chrt', [flag, '-p', String(saved.rtprio), String(pid)], { allowFail: true });
    }
  };
}
