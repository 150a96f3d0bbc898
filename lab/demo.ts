// `sudo npm run demo`: builds two real hosts in network namespaces, starts nacl-router on the
// seed firewall (examples/seed.nacl) between them over TAP links, shows allowed and blocked
// traffic, the port forward and the syslog messages, then tears everything down.
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Lab, ROOT, seedHosts, sh, skipReason, sleep, waitFor } from './netlab.js';

function line(ok: boolean, expectOk: boolean, what: string): boolean {
  const good = ok === expectOk;
  process.stdout.write(`${good ? '  ok  ' : ' FAIL '} ${what}${expectOk ? '' : ' (blocked, as the rules say)'}\n`);
  return good;
}

async function main(): Promise<number> {
  const why = skipReason();
  if (why) {
    process.stderr.write(`demo: ${why} (run: npm install && sudo npm run demo)\n`);
    return 2;
  }
  const lab = new Lab(null, 'dm');
  const stop = (): void => { void lab.cleanup().then(() => process.exit(130)); };
  process.once('SIGINT', stop);
  let good = true;
  try {
    const outside = lab.ns('demo-out');
    const inside = lab.ns('demo-in');
    const tap0 = lab.name('demo0');
    const tap1 = lab.name('demo1');
    const seed = join(ROOT, 'examples', 'seed.nacl');
    process.stdout.write(`nacl-router demo: ${seed}\n` +
      `  outside host  10.0.0.1 (and bastion 10.55.1.1)  --[${tap0}]--  10.0.0.2 router 192.168.0.1  --[${tap1}]--  inside host 192.168.0.54/.10/.5/.231\n\n`);
    const ctl = join(tmpdir(), `nacl-demo-${process.pid}.sock`);
    const router = lab.spawn(null, join(ROOT, 'bin', 'nacl-router.js'), ['run', seed, '--link', `0=tap:${tap0}`, '--link', `1=tap:${tap1}`, '--ctl', ctl],
      { ...process.env, NACL_LOG_LEVEL: 'warn' });
    await waitFor('router links', () => {
      if (router.exitCode !== null) throw new Error(`router exited:\n${router.out()}`);
      return lab.linkExists(tap0) && lab.linkExists(tap1);
    }, 15000);
    seedHosts(lab, outside, inside, tap0, tap1);
    lab.spawn(inside, 'python3', ['-m', 'http.server', '80', '--bind', '0.0.0.0', '--directory', join(ROOT, 'examples')]);
    lab.spawn(inside, 'python3', ['-m', 'http.server', '8080', '--bind', '0.0.0.0', '--directory', join(ROOT, 'examples')]);
    lab.spawn(inside, 'socat', ['TCP-LISTEN:5001,bind=192.168.0.54,fork,reuseaddr', 'SYSTEM:echo $SOCAT_PEERADDR']);
    const syslog = lab.syslogReceiver(inside, '192.168.0.231', 6514);
    await lab.listening(inside, [80, 8080, 5001]);
    await lab.listening(inside, [6514], true);

    good = line(lab.status(outside, 'ping', ['-c', '1', '-W', '2', '10.0.0.2']) === 0, true, 'ping 10.0.0.2 (the router)') && good;
    good = line(lab.status(outside, 'ping', ['-c', '1', '-W', '2', '-I', '10.55.1.1', '192.168.0.10']) === 0, true, 'ping 192.168.0.10 from the bastion host 10.55.1.1') && good;
    good = line(lab.status(outside, 'ping', ['-c', '1', '-W', '1', '192.168.0.10']) === 0, false, 'ping 192.168.0.10 from 10.0.0.1') && good;
    good = line(lab.status(outside, 'curl', ['-s', '-o', '/dev/null', '-m', '3', 'http://192.168.0.10/']) === 0, true, 'curl http://192.168.0.10/ (allowed host, allowed service)') && good;
    good = line(lab.status(outside, 'curl', ['-s', '-o', '/dev/null', '-m', '2', 'http://192.168.0.10:8080/']) === 0, false, 'curl http://192.168.0.10:8080/') && good;
    good = line(lab.status(outside, 'curl', ['-s', '-o', '/dev/null', '-m', '2', 'http://192.168.0.5/']) === 0, false, 'curl http://192.168.0.5/ (not in allowed_hosts)') && good;
    const fwd = lab.exec(outside, 'socat', ['-T', '3', '-', 'TCP:10.0.0.2:5001,connect-timeout=3'], { allowFail: true }).trim();
    good = line(fwd === '192.168.0.1', true, `port forward 10.0.0.2:5001 -> 192.168.0.54:5001; the server saw source ${fwd || '(nothing)'}`) && good;
    await sleep(500);
    const logs = syslog.lines();
    process.stdout.write(`\nrsyslogd on 192.168.0.231:6514 (inside) received ${logs.length} messages (severity|app|msgid|text), for example:\n`);
    const pick = [logs.find((l) => l.startsWith('info|') && /port/.test(l)), logs.find((l) => l.startsWith('warning|')), logs.find((l) => /established/.test(l))];
    for (const l of pick) if (l) process.stdout.write(`  ${l}\n`);
    const show = sh(join(ROOT, 'bin', 'nacl-router.js'), ['ctl', '--socket', ctl, 'show'], { allowFail: true });
    const hits = show.split('\n').filter((l) => /packets [1-9]/.test(l) && /(accept|drop)\b/.test(l)).slice(0, 6);
    process.stdout.write(`\nrules that matched (nacl-router ctl show):\n${hits.map((l) => `  ${l.trim().replace(/\s{2,}/g, '  ')}`).join('\n')}\n`);
    router.kill('SIGTERM');
    await new Promise<void>((r) => router.once('exit', () => r()));
  } catch (e) {
    process.stderr.write(`demo failed: ${(e as Error).message}\n`);
    good = false;
  } finally {
    await lab.cleanup();
  }
  process.stdout.write(good ? '\ndemo: everything behaved as the rules say; cleaned up.\n' : '\ndemo: some checks failed; cleaned up.\n');
  return good ? 0 : 1;
}

main().then((c) => { process.exitCode = c; });
