/** --qmp option parsing and the `tsvisor qmp` client. */
import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseQmpFd, parseQmpOption } from '../src/qmp/options';
import { formatMessage, parseClientLine } from '../src/cli/qmp-client';
import { startFakeMonitor } from './helpers/qmp-socket';

const root = join(__dirname, '..', '..');

t.test('--qmp accepts QEMU unix socket syntax', async (t) => {
  t.same(parseQmpOption('unix:/run/q.sock,server=on,wait=off'), { path: '/run/q.sock', server: true, wait: false });
  t.same(parseQmpOption('unix:/run/q.sock,server=on'), { path: '/run/q.sock', server: true, wait: true }, 'wait defaults to on, as QEMU');
  t.same(parseQmpOption('unix:/run/q.sock,server,nowait'), { path: '/run/q.sock', server: true, wait: false }, 'older spelling');
  t.same(parseQmpOption('unix:/run/a,,b.sock,server=yes,wait=no'), { path: '/run/a,b.sock', server: true, wait: false }, ',, is a comma');
});

t.test('--qmp refuses what it does not support, saying why', async (t) => {
  t.throws(() => parseQmpOption('tcp:localhost:4444,server=on,wait=off'), /only unix:PATH,server=on.*not 'tcp'/);
  t.throws(() => parseQmpOption('stdio'), /not 'stdio'/);
  t.throws(() => parseQmpOption('unix:/run/q.sock'), /client is not supported; add server=on/);
  t.throws(() => parseQmpOption('unix:/run/q.sock,server=on,wait=maybe'), /wait='maybe' must be on or off/);
  t.throws(() => parseQmpOption('unix:/run/q.sock,server=on,telnet=on'), /unknown option 'telnet=on'/);
  t.throws(() => parseQmpOption('unix:,server=on'), /path is empty/);
  t.equal(parseQmpFd('3'), 3);
  t.throws(() => parseQmpFd('1'), /3 or above/);
  t.throws(() => parseQmpFd('x'), /descriptor number/);
});

t.test('client shorthand becomes QMP requests', async (t) => {
  t.same(parseClientLine('query-status'), { request: { execute: 'query-status' }, hmp: false });
  t.same(parseClientLine('device-list-properties typename=virtio-blk-pci'),
    { request: { execute: 'device-list-properties', arguments: { typename: 'virtio-blk-pci' } }, hmp: false });
  t.same(parseClientLine('human-monitor-command command-line="info registers" cpu-index=1'),
    { request: { execute: 'human-monitor-command', arguments: { 'command-line': 'info registers', 'cpu-index': 1 } }, hmp: false });
  t.same(parseClientLine('x a.b=true list=[1, 2] obj={"k": "v w"}'),
    { request: { execute: 'x', arguments: { a: { b: true }, list: [1, 2], obj: { k: 'v w' } } }, hmp: false });
  t.same(parseClientLine('{"execute":"stop","id":7}'), { request: { execute: 'stop', id: 7 }, hmp: false });
  t.same(parseClientLine('hmp info status'), { request: { execute: 'human-monitor-command', arguments: { 'command-line': 'info status' } }, hmp: true });
  t.match(parseClientLine('stop nokey'), { error: /key=value/ });
  t.match(parseClientLine('{"execute":'), { error: /not valid JSON/ });
});

t.test('client output: pretty replies, errors, events, raw HMP text', async (t) => {
  t.equal(formatMessage({ return: { a: 1 } }, { json: false, hmp: false }), '{\n  "a": 1\n}');
  t.equal(formatMessage({ error: { class: 'GenericError', desc: 'no' } }, { json: false, hmp: false }), 'error: GenericError: no');
  t.equal(formatMessage({ event: 'STOP', timestamp: { seconds: 0, microseconds: 5000 } }, { json: false, hmp: false }), 'event STOP at 1970-01-01T00:00:00.005Z');
  t.equal(formatMessage({ return: 'VM status: running\r\n' }, { json: false, hmp: true }), 'VM status: running');
  t.equal(formatMessage({ return: {} }, { json: true, hmp: false }), '{"return":{}}');
});

function runClient(args: string[], input: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'bin', 'tsvisor'), 'qmp', ...args], {
      stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TSVISOR_QMP_HISTORY: '/dev/null' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(input);
  });
}

t.test('tsvisor qmp runs a script from stdin: replies, events, errors, exit status', async (t) => {
  const mon = await startFakeMonitor();
  t.teardown(() => mon.stop());
  const ok = await runClient([mon.path], 'query-status\ncont\nhmp info status\n');
  t.equal(ok.status, 0, ok.stderr);
  t.match(ok.stdout, /"status": "prelaunch"/);
  t.match(ok.stdout, /event RESUME at \d{4}-/);
  t.match(ok.stdout, /VM status: running\n/);
  const bad = await runClient(['--json', mon.path], 'no-such-command\nquery-name\n');
  t.equal(bad.status, 1, 'a failed command makes the exit status 1');
  t.match(bad.stdout, /\{"class":"CommandNotFound","desc":"The command no-such-command has not been found"\}/);
  t.match(bad.stdout, /\{"return":\{\}\}/);
  const nobody = await runClient([join(mon.dir, 'absent.sock')], '');
  t.equal(nobody.status, 1);
  t.match(nobody.stderr, /cannot connect to .*absent\.sock/);
});
