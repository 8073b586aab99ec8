/**
 * External interrupts on the software CPU: taken only with IF=1, at
 * instruction boundaries, after the STI shadow, waking HLT; delivered
 * through the real-mode IVT here (the IDT paths are in tcg-cpu-system).
 */
import t from 'tap';
import { createTcgAccelerator } from '../src/tcg-fallback/accelerator';
import type { CpuInterruptSource } from '../src/tcg-fallback/cpu-interrupt-port';
import { IoBus } from '../src/devices/bus';
import { SimpleRunControl } from '../src/accel';
import { memoryLogger } from '../src/log';
import { DebugPort, realModeIrqGuest } from './helpers/real-mode-irq-guest';

class FakeSource implements CpuInterruptSource {
  pending: number[] = [];
  acked: number[] = [];
  tpr = 0;
  hasPendingInterrupt(): boolean { return this.pending.length > 0; }
  acknowledgeInterrupt(): number { const v = this.pending.shift() as number; this.acked.push(v); return v; }
  takeNmi(): boolean { return false; }
  takeInit(): boolean { return false; }
  takeStartup(): number | undefined { return undefined; }
  getTpr(): number { return this.tpr; }
  setTpr(v: number): void { this.tpr = v; }
}

function realModeGuest(program: string): { run: () => string; port: DebugPort; irq: FakeSource } {
  const irq = new FakeSource();
  return { ...realModeIrqGuest(program, irq), irq };
}

t.test('HLT stops with halted, and an interrupt wakes it through the IVT', async (t) => {
  const g = realModeGuest(`
  sti
  hlt
  mov al, 'A'
  out 0xe9, al
  cli
  hlt`);
  t.equal(g.run(), 'halted');
  t.equal(g.port.text, '');
  g.irq.pending.push(0x20);
  t.equal(g.run(), 'halted');
  t.equal(g.port.text, 'IA');
  t.same(g.irq.acked, [0x20]);
});

t.test('IF=0 holds an interrupt back; the STI shadow covers one instruction', async (t) => {
  const g = realModeGuest(`
  cli
  mov al, 'x'
  out 0xe9, al
  mov al, 'S'
  sti
  out 0xe9, al
  mov al, 'T'
  out 0xe9, al
  cli
  hlt`);
  g.irq.pending.push(0x20);
  t.equal(g.run(), 'halted');
  t.equal(g.port.text, 'xSIT', 'taken after the instruction that follows STI, not during cli');
});

t.test('MOV CR8 reaches the interrupt source TPR', async (t) => {
  const bus = new IoBus(memoryLogger());
  const irq = new FakeSource();
  const acc = createTcgAccelerator({ ram: [{ guestAddress: 0, size: 1 << 20 }], cpus: 1, bus, control: new SimpleRunControl() }, { interruptSources: [irq] });
  const sregs = acc.vcpus[0].getSpecialRegisters();
  acc.vcpus[0].setSpecialRegisters({ ...sregs, cr8: 5n });
  t.equal(irq.tpr, 0x50);
  t.equal(acc.vcpus[0].getSpecialRegisters().cr8, 5n);
});
