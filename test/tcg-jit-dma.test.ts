/**
 * Device DMA and the translation cache: a device writes guest RAM only
 * through virtqueue chains, announced when a chain goes back to the driver
 * (SplitQueue.pushUsed -> GuestMemory.noteDmaWrite). Code cached from a page
 * a device wrote must not run again; DMA anywhere else must leave the cache
 * alone (no re-checks, no rebuilds).
 */
import t from 'tap';
import { SplitQueue } from '../src/devices/virtio/queue/split-queue';
import type { MmioDevice } from '../src/devices/bus';
import { IoBus } from '../src/devices/bus';
import { memoryLogger } from '../src/log';
import { SimpleRunControl } from '../src/accel';
import { createTcgAccelerator, TcgVcpu } from '../src/tcg-fallback/accelerator';
import type { BlockCache } from '../src/tcg-fallback/jit/block-cache';
import { pageKey } from '../src/tcg-fallback/jit/block';
import { SEG_CS } from '../src/tcg-fallback/cpu-constants';
import { DriverQueue, GuestAllocator } from './virtio-driver';
import { CODE, Machine, PT, PTE_P, PTE_RW, TIERS, labelAddress, machine, runProgram, snapshot } from './tcg-jit-support';

/** A virtqueue in the test machine's RAM, well away from code, page tables and stack. */
function queue(m: Machine): { dq: DriverQueue; q: SplitQueue } {
  const dq = new DriverQueue(m.mem, new GuestAllocator(0x200000, 0x280000), 8);
  const q = new SplitQueue(8, m.mem, (e) => { throw new Error(e); });
  q.size = 8;
  q.descAddr = dq.descAddr;
  q.driverAddr = dq.availAddr;
  q.deviceAddr = dq.usedAddr;
  const err = q.enable(false);
  if (err !== undefined) throw new Error(err);
  return { dq, q };
}

/** A device's whole round trip: take the driver's buffer, write `bytes` into it, hand it back. */
function dmaThroughQueue(dq: DriverQueue, q: SplitQueue, address: number, bytes: Uint8Array): void {
  dq.add([{ addr: address, len: bytes.length, write: true }]);
  const chain = q.pop();
  if (chain === undefined) throw new Error('no chain');
  chain.writeFrom(bytes);
  q.pushUsed(chain.head, bytes.length);
}

function cacheOf(m: Machine): BlockCache {
  if (m.cpu.jit === undefined) throw new Error('no translation');
  return m.cpu.jit.cache;
}

const SPIN = `
again:
  mov eax, 1
  jmp again
done:
  nop
`;

t.test('DMA through a virtqueue into cached code: the CPU runs the new bytes', async (t) => {
  for (const tier of TIERS) {
    const m = machine(tier);
    const { dq, q } = queue(m);
    runProgram(m, SPIN, 300);
    t.equal(m.cpu.lo[0], 1);
    if (tier !== 'interp') t.equal(cacheOf(m).codePages[CODE / 4096], 1, `${tier}: code page cached`);
    const epoch = m.cpu.jit?.cache.deviceEpoch;
    dmaThroughQueue(dq, q, CODE + 1, Uint8Array.of(9, 0, 0, 0)); // the immediate of mov eax, 1
    m.cpu.execute(10);
    t.equal(m.cpu.lo[0], 9, `${tier}: new bytes executed`);
    if (tier !== 'interp') {
      t.equal(cacheOf(m).deviceEpoch, (epoch ?? 0) + 1, `${tier}: device epoch moved (self-loops leave)`);
      t.equal(cacheOf(m).dmaInvalidations, 1, `${tier}: one DMA invalidation`);
    }
  }
});

t.test('GuestMemory.noteDmaWrite alone invalidates, also for a range ending in the code page', async (t) => {
  const m = machine('compiled');
  runProgram(m, SPIN, 300);
  const bytes = m.mem.mustView(CODE - 8, 10);
  bytes[9] = 7; // CODE + 1, written through a raw view as a device would
  m.mem.noteDmaWrite(CODE - 8, 10);
  m.cpu.execute(10);
  t.equal(m.cpu.lo[0], 7);
});

/** An MMIO device that, on its `at`-th write, DMAs 9 into the immediate at `target` through a virtqueue. */
class DmaOnWrite implements MmioDevice {
  writes = 0;
  constructor(private readonly at: number, private readonly target: number, private readonly dq: DriverQueue, private readonly q: SplitQueue) {}
  mmioRead(_offset: number, data: Uint8Array): void { data.fill(0); }
  mmioWrite(): void {
    if (++this.writes === this.at) dmaThroughQueue(this.dq, this.q, this.target, Uint8Array.of(9, 0, 0, 0));
  }
}

const MMIO_PAGE = 0xfee00000;
const DOORBELL_LOOP = `
  mov rbx, 0x1ff000
  xor ecx, ecx
  xor edx, edx
again:
  mov dword ptr [rbx], ecx
patch:
  mov eax, 1
  add edx, eax
  inc ecx
  cmp ecx, 100
  jne again
done:
  nop
`;

t.test('DMA completed inside a doorbell write is seen by the next instruction of the running block', async (t) => {
  const patch = labelAddress(DOORBELL_LOOP, 'patch');
  const states = TIERS.map((tier) => {
    const m = machine(tier);
    const { dq, q } = queue(m);
    m.mem.writeU32(PT + 0x1ff * 8, MMIO_PAGE | PTE_P | PTE_RW);
    m.cpu.bus.registerMmio(MMIO_PAGE, 4096, new DmaOnWrite(50, patch + 1, dq, q), 'test-doorbell');
    const { doneAt } = runProgram(m, DOORBELL_LOOP);
    t.equal(m.cpu.rip, doneAt, `${tier}: reached done`);
    t.equal(m.cpu.lo[2], 49 * 1 + 51 * 9, `${tier}: the patched immediate ran from the 50th iteration on`);
    return snapshot(m.cpu);
  });
  t.same(states[1], states[0]);
  t.same(states[2], states[0]);
});

t.test('DMA to pages without cached code invalidates nothing', async (t) => {
  for (const tier of ['blocks', 'compiled'] as const) {
    const m = machine(tier);
    const { dq, q } = queue(m);
    runProgram(m, SPIN, 300);
    const cache = cacheOf(m);
    const block = cache.get(CODE / 4096, pageKey(CODE & 0xfff, 8));
    t.ok(block?.valid, `${tier}: block cached`);
    const before = { size: cache.size, invalidations: cache.invalidations, epoch: cache.deviceEpoch, built: cache.built };
    dmaThroughQueue(dq, q, 0x300000, new Uint8Array(8192).fill(0xcc)); // data pages (and the used ring)
    m.mem.noteDmaWrite(CODE - 64, 64); // ends right before the code page
    m.mem.noteDmaWrite(CODE + 4096, 4096); // the page after it
    m.mem.noteDmaWrite(0, 0);
    t.same({ size: cache.size, invalidations: cache.invalidations, epoch: cache.deviceEpoch, built: cache.built }, before,
      `${tier}: nothing dropped, nothing counted`);
    t.ok(block?.valid, `${tier}: the block is still valid`);
    m.cpu.execute(10);
    t.equal(cache.built, before.built, `${tier}: running on needed no new block`);
    t.equal(m.cpu.lo[0], 1);
  }
});

t.test('the vCPUs of a machine share one cache, which hears the machine memory\'s DMA', async (t) => {
  const accel = createTcgAccelerator({ ram: [{ guestAddress: 0, size: 1 << 20 }], cpus: 2, bus: new IoBus(memoryLogger()), control: new SimpleRunControl() },
    { translate: true });
  const [a, b] = accel.vcpus as TcgVcpu[];
  const cache = a.cpu.jit?.cache;
  t.ok(cache !== undefined && cache === b.cpu.jit?.cache, 'one cache');
  if (cache === undefined) return;
  // Real mode at reset: run a few instructions from RAM so the cache holds a block, then DMA over it.
  a.cpu.segs[SEG_CS].base = 0; a.cpu.segs[SEG_CS].selector = 0; a.cpu.rip = 0x1000;
  accel.memory.write(0x1000, Uint8Array.of(0xb8, 0x01, 0x00, 0xeb, 0xfb)); // mov ax, 1; jmp $-3
  a.cpu.execute(20);
  t.equal(a.cpu.lo[0] & 0xffff, 1);
  t.equal(cache.codePages[1], 1, 'code page cached');
  accel.memory.mustView(0x1001, 1)[0] = 5;
  accel.memory.noteDmaWrite(0x1001, 1);
  t.equal(cache.codePages[1], 0, 'dropped');
  a.cpu.execute(20);
  t.equal(a.cpu.lo[0] & 0xffff, 5, 'new bytes executed');
});
