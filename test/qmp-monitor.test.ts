/** The monitor over a real socket with a fake VM: connections, events, limits. */
import t from 'tap';
import { statSync, writeFileSync, existsSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startQmpServer } from '../src/qmp/server';
import { memoryLogger } from '../src/log';
import { FakeVm } from './helpers/fake-vm';
import { RawQmpClient, startFakeMonitor } from './helpers/qmp-socket';

t.test('the greeting names tsvisor and a QEMU-compatible version', async (t) => {
  const mon = await startFakeMonitor();
  t.teardown(() => mon.stop());
  const c = await mon.connect();
  const line = await c.nextLine();
  t.equal(line, '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "tsvisor 0.1.0"}, "capabilities": ["oob"]}}');
});

t.test('every message ends with CRLF, nothing is left half-written', async (t) => {
  const mon = await startFakeMonitor();
  t.teardown(() => mon.stop());
  const c = await mon.client();
  c.write('{"execute":"query-status"}\n{"execute":"cont"}\n');
  await c.nextReply();
  await c.nextReply();
  t.equal(c.partial, '');
  t.same(c.events.map((e) => e.event), ['RESUME']);
});

t.test('several clients at once, each negotiating by itself', async (t) => {
  const mon = await startFakeMonitor();
  t.teardown(() => mon.stop());
  const a = await mon.connect();
  const b = await mon.connect();
  await a.next();
  await b.next();
  t.equal(mon.server.clientCount, 2);
  t.same(await a.execute('qmp_capabilities'), { return: {} });
  t.same((await b.execute('query-status')).error, {
    class: 'CommandNotFound', desc: "Expecting capabilities negotiation with 'qmp_capabilities'",
  }, 'b is still negotiating');
  t.same(await b.execute('qmp_capabilities'), { return: {} });
  t.same(await b.execute('query-name'), { return: {} });
});

t.test('events reach every negotiated client, before the reply to the command that caused them', async (t) => {
  const mon = await startFakeMonitor({ latencyMs: 5 });
  t.teardown(() => mon.stop());
  const a = await mon.client();
  const b = await mon.client();
  const quiet = await mon.connect();
  await quiet.next();
  a.write('{"execute":"cont","id":1}\n');
  const first = await a.next();
  t.equal(first.event, 'RESUME', 'event first');
  t.match(first.timestamp, { seconds: Number, microseconds: Number });
  t.same(await a.next(), { return: {}, id: 1 });
  t.equal((await b.next()).event, 'RESUME', 'the other client gets it too');
  quiet.write('{"execute":"qmp_capabilities"}\n');
  t.same(await quiet.next(), { return: {} }, 'a client still negotiating got no event');
});

t.test('clients racing to stop and cont: one STOP, one RESUME, as under QEMU', async (t) => {
  const mon = await startFakeMonitor({ running: true, latencyMs: 10 });
  t.teardown(() => mon.stop());
  const clients = await Promise.all(Array.from({ length: 5 }, () => mon.client()));
  await Promise.all(clients.map((c) => c.execute('stop')));
  await Promise.all(clients.map((c) => c.execute('cont')));
  for (const c of clients) {
    while (c.events.length < 2) c.events.push(await c.next());
    t.same(c.events.map((e) => e.event), ['STOP', 'RESUME']);
  }
  t.same(mon.vm.calls, ['stop', 'cont'], 'the VM was asked once each');
});

t.test('replies stay in request order even when commands take time', async (t) => {
  const mon = await startFakeMonitor({ latencyMs: 10, cpus: 2 });
  t.teardown(() => mon.stop());
  const c = await mon.client();
  const ids = Array.from({ length: 20 }, (_, i) => i);
  c.write(ids.map((id) => JSON.stringify({ execute: id % 2 ? 'query-cpus-fast' : 'query-status', id })).join(''));
  const got: unknown[] = [];
  for (const _ of ids) got.push((await c.nextReply()).id);
  t.same(got, ids);
});

t.test('malformed input gets an error and the connection stays usable', async (t) => {
  const mon = await startFakeMonitor();
  t.teardown(() => mon.stop());
  const c = await mon.client();
  c.write('{"execute": }\n');
  t.same(await c.next(), { error: { class: 'GenericError', desc: 'JSON parse error, expecting value' } });
  c.write(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d, 0x0a]));
  t.same(await c.next(), { error: { class: 'GenericError', desc: 'JSON parse error, invalid UTF-8 sequence in string' } });
  t.same((await c.execute('query-status', undefined, 'after')).id, 'after');
});

t.test('nesting deeper than 1024 is refused without disconnecting', async (t) => {
  const mon = await startFakeMonitor();
  t.teardown(() => mon.stop());
  const c = await mon.client();
  c.write('['.repeat(1025));
  t.same(await c.next(), { error: { class: 'GenericError', desc: 'JSON nesting depth limit exceeded' } });
  c.write('\n{"execute":"query-status","id":"ok"}\n');
  t.equal((await c.nextReply()).id, 'ok');
});

t.test('input beyond the size limit without a complete message: error, then disconnect; the VM is untouched', async (t) => {
  const mon = await startFakeMonitor({ running: true }, { maxMessageBytes: 64 * 1024 });
  t.teardown(() => mon.stop());
  const c = await mon.client();
  const other = await mon.client();
  c.write('{"execute":"query-status","id":"' + 'x'.repeat(100 * 1024));
  t.same(await c.next(), { error: { class: 'GenericError', desc: 'JSON token size limit exceeded' } });
  await c.waitClosed();
  t.equal(mon.vm.runState(), 'running');
  t.same(mon.vm.calls, []);
  t.equal((await other.execute('query-status', undefined, 'still')).id, 'still', 'other clients go on');
});

t.test('a client that never reads is dropped instead of buffering without end', async (t) => {
  const mon = await startFakeMonitor({}, { maxPendingOutput: 256 * 1024 });
  t.teardown(() => mon.stop());
  const c = await mon.client();
  c.socket.pause();
  const flood = '{"execute":"query-qmp-schema"}'.repeat(200);
  for (let i = 0; i < 10 && !c.closed; i++) {
    c.write(flood);
    await new Promise((r) => setTimeout(r, 20));
  }
  c.socket.resume();
  await c.waitClosed(5000);
  t.ok(mon.log.lines.some((l) => l.includes('not reading')), 'logged');
  const d = await mon.client();
  t.ok('return' in (await d.execute('query-status')), 'monitor still serves');
});

t.test('quit: SHUTDOWN, then the reply, then every connection closes and onQuit runs', async (t) => {
  const mon = await startFakeMonitor({ running: true });
  t.teardown(() => mon.stop());
  const a = await mon.client();
  const b = await mon.client();
  a.write('{"execute":"quit","id":"q"}\n{"execute":"query-status","id":"never"}\n');
  t.same((await a.next()).data, { guest: false, reason: 'host-qmp-quit' });
  t.same(await a.next(), { return: {}, id: 'q' });
  await a.waitClosed();
  t.equal((await b.next()).event, 'SHUTDOWN', 'other client saw SHUTDOWN');
  await b.waitClosed();
  for (let i = 0; i < 100 && mon.quits === 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(mon.quits, 1);
  t.notOk(existsSync(mon.path), 'socket removed');
  t.same(mon.vm.calls, ['quit']);
});

t.test('the socket is created with mode 0600', async (t) => {
  const mon = await startFakeMonitor();
  t.teardown(() => mon.stop());
  t.equal(statSync(mon.path).mode & 0o777, 0o600);
});

t.test('a stale socket is replaced, a live one refused, a non-socket refused', async (t) => {
  const mon = await startFakeMonitor();
  t.teardown(() => mon.stop());
  const log = memoryLogger();
  const vm = new FakeVm();
  await t.rejects(startQmpServer({ path: mon.path, vm, log, onQuit: () => undefined }), /in use by a running process/);
  t.ok((await (await mon.connect()).next()).QMP, 'the live monitor was not disturbed');

  const stale = join(mon.dir, 'stale.sock');
  // A process that dies without cleaning up leaves its socket file behind.
  spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  t.ok(existsSync(stale), 'stale socket file exists');
  const revived = await startQmpServer({ path: stale, vm, log, onQuit: () => undefined });
  t.teardown(() => revived.close());
  const c = await RawQmpClient.connect(stale);
  t.ok((await c.next()).QMP, 'new monitor serves on the old path');
  c.close();

  const file = join(mon.dir, 'plain-file');
  writeFileSync(file, 'x');
  await t.rejects(startQmpServer({ path: file, vm, log, onQuit: () => undefined }), /not a socket/);
});

t.test('wait=on resolves only when the first client connects', async (t) => {
  const mon = await startFakeMonitor();
  t.teardown(() => mon.stop());
  const path = join(mon.dir, 'wait.sock');
  let started = false;
  const pending = startQmpServer({ path, wait: true, vm: new FakeVm(), log: memoryLogger(), onQuit: () => undefined })
    .then((s) => { started = true; return s; });
  while (!existsSync(path)) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 50));
  t.notOk(started, 'still waiting');
  const c = await RawQmpClient.connect(path);
  const server = await pending;
  t.ok(started);
  t.ok((await c.next()).QMP, 'the first client gets the greeting');
  c.close();
  await server.close();
});

const python = spawnSync('python3', ['--version']).status === 0 ? false : 'python3 is needed to play the parent process';

t.test('--qmp-fd: a listening socket bound by a parent process and inherited', { skip: python }, async (t) => {
  const mon = await startFakeMonitor();
  t.teardown(() => mon.stop());
  const path = join(mon.dir, 'inherited.sock');
  // The parent (as libvirt does) binds and listens, then execs tsvisor with the descriptor.
  const child = `
    const { startQmpServer } = require(${JSON.stringify(join(__dirname, '../src/qmp/server'))});
    const { FakeVm } = require(${JSON.stringify(join(__dirname, 'helpers/fake-vm'))});
    const { memoryLogger } = require(${JSON.stringify(join(__dirname, '../src/log'))});
    startQmpServer({ fd: Number(process.argv[1]), vm: new FakeVm(), log: memoryLogger(), onQuit: () => process.exit(0) })
      .then(() => process.stdout.write('ready\\n'));`;
  const parent = `
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(8); os.set_inheritable(s.fileno(), True)
os.execv(sys.argv[2], [sys.argv[2], '-e', sys.argv[3], str(s.fileno())])`;
  const proc = spawn('python3', ['-c', parent, path, process.execPath, child], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { proc.kill('SIGKILL'); });
  await new Promise<void>((resolve) => proc.stdout.once('data', () => resolve()));
  const c = await RawQmpClient.connect(path);
  t.ok((await c.next()).QMP, 'greeting on the inherited socket');
  await c.execute('qmp_capabilities');
  c.write('{"execute":"quit"}\n');
  await c.waitClosed();
  await new Promise<void>((resolve) => { if (proc.exitCode !== null) resolve(); else proc.once('exit', () => resolve()); });
  t.equal(proc.exitCode, 0, 'quit ended the process');
});
