/** Commands against the fake VM: QEMU's run-state rules, VM views, HMP, and replies that match their schemas. */
import t from 'tap';
import Ajv from 'ajv';
import { loadCommandSchemas, loadEventSchemas } from '../src/qmp/schema-files';
import { COMMANDS } from '../src/qmp/commands';
import { startFakeMonitor } from './helpers/qmp-socket';
import { BlockDeviceInfo } from '../src/qmp/vm-control';

const disk: BlockDeviceInfo = {
  device: 'virtio0', qdev: '/machine/peripheral-anon/device[0]/virtio-backend', removable: false, locked: false,
  inserted: { file: '/images/root.img', nodeName: '#block112', drv: 'raw', readOnly: false, virtualSize: 1048576, cache: { writeback: true, direct: false, noFlush: false } },
};
const cdrom: BlockDeviceInfo = { device: 'ide0-cd0', qdev: '/machine/unattached/device[20]', removable: true, locked: false, trayOpen: false };

t.test('run-state machine: stop, cont, reset, powerdown as QEMU', async (t) => {
  const mon = await startFakeMonitor();
  t.teardown(() => mon.stop());
  const c = await mon.client();
  const status = async () => ((await c.execute('query-status')).return as { status: string }).status;
  const eventsOf = async (command: string) => {
    c.events.length = 0;
    const reply = await c.execute(command);
    return { reply, events: c.events.map((e) => e.event) };
  };
  t.same(await eventsOf('stop'), { reply: { return: {} }, events: [] }, 'stop in prelaunch does nothing');
  t.equal(await status(), 'prelaunch');
  t.same((await eventsOf('cont')).events, ['RESUME']);
  t.same((await eventsOf('cont')).events, [], 'cont when running: no event');
  t.same((await eventsOf('stop')).events, ['STOP']);
  t.same((await eventsOf('stop')).events, [], 'stop when paused: no event');
  t.equal(await status(), 'paused');
  t.same((await eventsOf('system_reset')).events, ['RESET']);
  t.same(c.events[0].data, { guest: false, reason: 'host-qmp-system-reset' });
  t.equal(await status(), 'prelaunch', 'a reset VM that was not running is in prelaunch');
  t.same((await eventsOf('system_powerdown')).events, ['POWERDOWN']);
  t.same(mon.vm.calls, ['cont', 'stop', 'reset', 'powerdown'], 'the VM was only asked when QEMU would act');
});

t.test('cont is refused after a guest shutdown (-no-shutdown) and an internal error, until system_reset', async (t) => {
  const mon = await startFakeMonitor({ running: true, noShutdown: true });
  t.teardown(() => mon.stop());
  const c = await mon.client();
  mon.vm.guestShutdown();
  t.same((await c.next()).data, { guest: true, reason: 'guest-shutdown' });
  t.equal((await c.next()).event, 'STOP');
  t.same(await c.execute('cont', undefined, 1), { id: 1, error: { class: 'GenericError', desc: 'Resetting the Virtual Machine is required' } });
  t.same(await c.execute('system_reset'), { return: {} });
  t.same(await c.execute('query-status'), { return: { running: false, singlestep: false, status: 'prelaunch' } });
  t.same(await c.execute('cont'), { return: {} });
  mon.vm.internalError();
  t.equal((await c.next()).event, 'STOP', 'an internal error stops the VM');
  t.same((await c.execute('cont')).error, { class: 'GenericError', desc: 'Resetting the Virtual Machine is required' });
  t.equal(mon.vm.runState(), 'internal-error');
});

t.test('VM views: name, uuid, kvm, cpus, hot-pluggable slots, block devices, chardevs', async (t) => {
  const mon = await startFakeMonitor({
    name: 'guest1', uuid: '12345678-1234-1234-1234-123456789abc', cpus: 2, accel: 'kvm',
    blockDevices: [disk, cdrom], chardevs: [{ label: 'serial0', filename: 'stdio', frontendOpen: true }],
  });
  t.teardown(() => mon.stop());
  const c = await mon.client();
  t.same(await c.execute('query-name'), { return: { name: 'guest1' } });
  t.same(await c.execute('query-uuid'), { return: { UUID: '12345678-1234-1234-1234-123456789abc' } });
  t.same(await c.execute('query-kvm'), { return: { enabled: true, present: true } });
  const cpus = (await c.execute('query-cpus-fast')).return as Array<Record<string, unknown>>;
  t.same(cpus.map((x) => [x['cpu-index'], x['qom-path'], x.target]), [[0, '/machine/unattached/device[0]', 'x86_64'], [1, '/machine/unattached/device[2]', 'x86_64']]);
  t.same(cpus[1].props, { 'core-id': 1, 'thread-id': 0, 'socket-id': 0 });
  const slots = (await c.execute('query-hotpluggable-cpus')).return as Array<Record<string, unknown>>;
  t.same(slots.map((s) => s['qom-path']), ['/machine/unattached/device[2]', '/machine/unattached/device[0]'], 'highest slot first, as QEMU');
  t.equal(slots[0].type, 'qemu64-x86_64-cpu');
  const line = await (async () => { c.write('{"execute":"query-block"}\n'); return c.nextLine(); })();
  t.equal(line, '{"return": [{"io-status": "ok", "device": "virtio0", "locked": false, "removable": false, "inserted": {"iops_rd": 0, "detect_zeroes": "off", "image": {"virtual-size": 1048576, "filename": "/images/root.img", "format": "raw", "dirty-flag": false}, "iops_wr": 0, "ro": false, "node-name": "#block112", "backing_file_depth": 0, "drv": "raw", "iops": 0, "bps_wr": 0, "write_threshold": 0, "encrypted": false, "bps": 0, "bps_rd": 0, "cache": {"no-flush": false, "direct": false, "writeback": true}, "file": "/images/root.img"}, "qdev": "/machine/peripheral-anon/device[0]/virtio-backend", "type": "unknown"}, {"io-status": "ok", "device": "ide0-cd0", "locked": false, "removable": true, "qdev": "/machine/unattached/device[20]", "tray_open": false, "type": "unknown"}]}',
    'query-block byte-identical to QEMU 7.2 for the same devices (recorded), except actual-size');
  t.same((await c.execute('query-chardev')).return, [
    { 'frontend-open': true, filename: `unix:${mon.path},server=on`, label: 'compat_monitor0' },
    { 'frontend-open': true, filename: 'stdio', label: 'serial0' },
  ]);
});

t.test('HMP: info status/cpus/registers/block/version, run control, unknown commands', async (t) => {
  const mon = await startFakeMonitor({ cpus: 2, blockDevices: [disk, cdrom] });
  t.teardown(() => mon.stop());
  const c = await mon.client();
  const hmp = async (line: string, cpuIndex?: number) =>
    (await c.execute('human-monitor-command', cpuIndex === undefined ? { 'command-line': line } : { 'command-line': line, 'cpu-index': cpuIndex })).return;
  t.equal(await hmp('info status'), 'VM status: paused (prelaunch)\r\n');
  t.equal(await hmp('info cpus'), `* CPU #0: thread_id=${process.pid + 1}\r\n  CPU #1: thread_id=${process.pid + 2}\r\n`);
  t.equal(await hmp('info cpus', 1), `  CPU #0: thread_id=${process.pid + 1}\r\n* CPU #1: thread_id=${process.pid + 2}\r\n`, 'cpu-index picks the current CPU');
  const regs = String(await hmp('info registers'));
  t.match(regs, /^\r\nCPU#0\r\nRAX=0000000000000000 /);
  t.match(regs, /RIP=000000000000fff0 /);
  t.match(String(await hmp('info registers', 1)), /^\r\nCPU#1\r\n.*RIP=000000000000fff1 /s);
  t.match(String(await hmp('info registers -a')), /CPU#0\r\n[^]*CPU#1\r\n/);
  t.equal(await hmp('info registers 7'), 'CPU#7 not available\r\n');
  t.equal(await hmp('info block'), 'virtio0 (#block112): /images/root.img (raw)\r\n    Attached to:      /machine/peripheral-anon/device[0]/virtio-backend\r\n    Cache mode:       writeback\r\n\r\nide0-cd0: [not inserted]\r\n    Attached to:      /machine/unattached/device[20]\r\n    Removable device: not locked, tray closed\r\n',
    'info block as QEMU prints the same devices');
  t.equal(await hmp('info version'), '7.2.0tsvisor 0.1.0\r\n');
  t.equal(await hmp('cont'), '');
  t.equal(await hmp('info status'), 'VM status: running\r\n');
  t.equal(await hmp('stop'), '');
  t.equal(await hmp('info status'), 'VM status: paused\r\n');
  t.equal(await hmp('system_powerdown'), '');
  t.same(c.events.map((e) => e.event), ['RESUME', 'STOP', 'POWERDOWN']);
  t.equal(await hmp('frobnicate now'), "unknown command: 'frobnicate'\r\n");
  t.same((await c.execute('human-monitor-command', { 'command-line': 'info status', 'cpu-index': 9 })).error,
    { class: 'GenericError', desc: "Parameter 'cpu-index' expects a CPU number" });
});

t.test('HMP q quits like QMP quit', async (t) => {
  const mon = await startFakeMonitor();
  t.teardown(() => mon.stop());
  const c = await mon.client();
  t.same(await c.execute('human-monitor-command', { 'command-line': 'q' }), { return: '' });
  t.equal(c.events[0].event, 'SHUTDOWN');
  await c.waitClosed();
});

t.test('every command has a schema and every schema a command', async (t) => {
  const names = loadCommandSchemas().map((s) => s.name).sort();
  t.same(Object.keys(COMMANDS).sort(), names);
  t.ok(names.length >= 20);
});

t.test('every reply and event matches the schema it is described by', async (t) => {
  const ajv = new Ajv({ strict: false });
  const returns = new Map(loadCommandSchemas().map((s) => [s.name, ajv.compile(s.returns)]));
  const events = new Map(loadEventSchemas().map((s) => [s.name, ajv.compile(s.data)]));
  const mon = await startFakeMonitor({ name: 'x', cpus: 2, blockDevices: [disk, cdrom], chardevs: [{ label: 'serial0', filename: 'stdio', frontendOpen: true }] });
  t.teardown(() => mon.stop());
  const c = await mon.client();
  const calls: Array<[string, unknown?]> = [
    ['query-version'], ['query-commands'], ['query-qmp-schema'], ['query-status'], ['query-name'], ['query-uuid'],
    ['query-kvm'], ['query-target'], ['query-machines'], ['query-current-machine'], ['query-cpus-fast'],
    ['query-hotpluggable-cpus'], ['query-chardev'], ['query-block'], ['device-list-properties', { typename: 'virtio-blk-pci' }],
    ['human-monitor-command', { 'command-line': 'info registers' }], ['cont'], ['stop'], ['system_reset'], ['system_powerdown'],
  ];
  for (const [name, args] of calls) {
    const reply = await c.execute(name, args);
    const validate = returns.get(name);
    t.ok(validate?.(reply.return), `${name} reply matches its schema ${JSON.stringify(validate?.errors ?? '')}`);
  }
  await c.execute('quit');
  for (const e of c.events) {
    const validate = events.get(String(e.event));
    t.ok(validate?.(e.data ?? {}), `${e.event} data matches its schema`);
  }
});

t.test('query-qmp-schema is well-formed SchemaInfo', async (t) => {
  const mon = await startFakeMonitor();
  t.teardown(() => mon.stop());
  const c = await mon.client();
  const info = (await c.execute('query-qmp-schema')).return as Array<Record<string, unknown>>;
  const byName = new Map(info.map((e) => [e.name, e]));
  t.equal(byName.size, info.length, 'names are unique');
  for (const e of info) {
    for (const ref of ['arg-type', 'ret-type', 'element-type']) {
      if (ref in e) t.ok(byName.has(e[ref]), `${e.name}: ${ref} ${e[ref]} is defined`);
    }
    for (const m of (e['meta-type'] === 'object' ? e.members : []) as Array<{ type: string }>) {
      t.ok(byName.has(m.type), `${e.name}: member type ${m.type} is defined`);
    }
  }
  t.same(byName.get('0'), { name: '0', 'meta-type': 'object', members: [] }, '"0" is the empty object, as in QEMU');
  t.same(byName.get('query-status'), { name: 'query-status', 'meta-type': 'command', 'arg-type': '0', 'ret-type': byName.get('query-status')?.['ret-type'] });
  const hmp = byName.get('human-monitor-command');
  t.same(byName.get(hmp?.['arg-type'])?.members, [{ name: 'command-line', type: 'str' }, { name: 'cpu-index', default: null, type: 'int' }]);
  t.same(byName.get('int'), { name: 'int', 'meta-type': 'builtin', 'json-type': 'int' });
  const shutdown = byName.get('SHUTDOWN');
  t.equal((byName.get(shutdown?.['arg-type'])?.members as unknown[]).length, 2);
});

t.test('a VM call that throws or rejects becomes a GenericError; the monitor goes on', async (t) => {
  const mon = await startFakeMonitor({ cpus: 1 });
  t.teardown(() => mon.stop());
  const c = await mon.client();
  mon.vm.cpus = () => Promise.reject(new Error('vCPU thread did not answer'));
  mon.vm.stop = () => { throw new Error('cannot pause'); };
  t.same((await c.execute('query-cpus-fast', undefined, 1)).error, { class: 'GenericError', desc: 'vCPU thread did not answer' });
  await c.execute('cont');
  t.same((await c.execute('stop')).error, { class: 'GenericError', desc: 'cannot pause' });
  t.equal((await c.execute('human-monitor-command', { 'command-line': 'info status' })).return, 'VM status: running\r\n');
  t.ok(mon.log.lines.some((l) => l.includes('cannot pause')), 'the failure is logged');
});
