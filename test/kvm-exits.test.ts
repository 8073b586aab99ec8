import t from 'tap';
import { KvmBinding, kvmBinding } from '../src/kvm/binding';
import { decodeExit, describeExit } from '../src/kvm/exits';

// Pure decoding over a synthetic kvm_run page: needs the built addon (for the
// kernel's struct offsets) but not /dev/kvm.
let binding: KvmBinding | undefined;
let skip: string | undefined;
try {
  binding = kvmBinding();
} catch (e) {
  skip = `KVM addon not built: ${(e as Error).message}`;
}

function layout(): { b: KvmBinding; o: KvmBinding['runOffsets']; r: KvmBinding['exitReasons'] } {
  const b = binding!;
  return { b, o: b.runOffsets, r: b.exitReasons };
}

function page(): { bytes: Uint8Array; dv: DataView } {
  const bytes = new Uint8Array(8192);
  return { bytes, dv: new DataView(bytes.buffer) };
}

t.test('I/O exits decode direction, size, port, count and data offset', { skip }, async (t) => {
  const { o, r } = layout();
  const { bytes, dv } = page();
  dv.setUint8(o.ioDirection, 0);
  dv.setUint8(o.ioSize, 2);
  dv.setUint16(o.ioPort, 0x3f8, true);
  dv.setUint32(o.ioCount, 7, true);
  dv.setBigUint64(o.ioDataOffset, 4096n, true);
  t.same(decodeExit(r.IO, bytes, o, r), { kind: 'io', direction: 'in', size: 2, port: 0x3f8, count: 7, dataOffset: 4096 });
});

t.test('MMIO exits decode a 64-bit address and give a view of the data', { skip }, async (t) => {
  const { o, r } = layout();
  const { bytes, dv } = page();
  dv.setBigUint64(o.mmioPhysAddr, 0x1_2345_6000n, true);
  dv.setUint32(o.mmioLen, 4, true);
  dv.setUint8(o.mmioIsWrite, 1);
  bytes.set([1, 2, 3, 4], o.mmioData);
  const exit = decodeExit(r.MMIO, bytes, o, r);
  t.match(exit, { kind: 'mmio', address: 0x1_2345_6000, length: 4, isWrite: true });
  if (exit.kind !== 'mmio') return;
  t.same([...exit.data], [1, 2, 3, 4]);
  exit.data[0] = 9;
  t.equal(bytes[o.mmioData], 9, 'the data is a view into kvm_run, not a copy');
});

t.test('error exits carry their hardware details into one-line messages', { skip }, async (t) => {
  const { o, r } = layout();
  const { bytes, dv } = page();
  dv.setBigUint64(o.failEntryReason, 0x80000021n, true);
  dv.setUint32(o.failEntryCpu, 1, true);
  const fail = decodeExit(r.FAIL_ENTRY, bytes, o, r);
  t.same(fail, { kind: 'fail-entry', hardwareReason: 0x80000021n, cpu: 1 });
  t.equal(describeExit(fail), 'KVM_EXIT_FAIL_ENTRY: hardware entry failure reason 0x80000021 on cpu 1');

  dv.setUint32(o.internalSuberror, 1, true);
  dv.setUint32(o.internalNdata, 2, true);
  dv.setBigUint64(o.internalData, 0xaan, true);
  dv.setBigUint64(o.internalData + 8, 0xbbn, true);
  const internal = decodeExit(r.INTERNAL_ERROR, bytes, o, r);
  t.same(internal, { kind: 'internal-error', suberror: 1, data: [0xaan, 0xbbn] });
  t.equal(describeExit(internal), 'KVM_EXIT_INTERNAL_ERROR: suberror 1 (emulation failure), data [0xaa, 0xbb]');

  dv.setBigUint64(o.hwExitReason, 0x30n, true);
  const unknown = decodeExit(999, bytes, o, r);
  t.same(unknown, { kind: 'unknown', reason: 999, hardwareReason: 0x30n });
  t.match(describeExit(unknown), /unhandled KVM exit reason 999/);
});

t.test('the remaining exits decode to their kinds', { skip }, async (t) => {
  const { b, o, r } = layout();
  const { bytes, dv } = page();
  t.same(decodeExit(r.HLT, bytes, o, r), { kind: 'hlt' });
  t.same(decodeExit(r.SHUTDOWN, bytes, o, r), { kind: 'shutdown' });
  t.same(decodeExit(r.INTR, bytes, o, r), { kind: 'interrupted' });
  dv.setUint32(o.systemEventType, b.flags.SYSTEM_EVENT_RESET, true);
  t.match(decodeExit(r.SYSTEM_EVENT, bytes, o, r), { kind: 'system-event', type: b.flags.SYSTEM_EVENT_RESET });
});
