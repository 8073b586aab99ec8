/**
 * External interrupts on the software CPU: taken only with IF=1, at
 * instruction boundaries, after the STI shadow, waking HLT; delivered
 * through the real-mode IVT here (the IDT paths are in tcg-cpu-system).
 */
import t from 'tap';
import { createTcgAccelerator } from '../src/tcg-fallback/accelerator';
import type { CpuInterruptSource } from '../src/tcg-fallback/cpu-interrupt-port';
import { IoBus, PioDevice } from '../src/devices/bus';
import { SimpleRunControl } from '../src/accel';
import { memoryLogger } from '../src/log';
import { assemble } from './tcg-cpu-support';

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

class DebugPort implements PioDevice {
  text = '';
  pioRead(): number { return 0; }
  pioWrite(_o: number, _s: number, v: number): void { this.text += String.fromCharCode(v & 0xff); }
}

function realModeGuest(source: string): { run: () => string; port: DebugPort; irq: FakeSource } {
  const bus = new IoBus(memoryLogger());
  const port = new DebugPort();
  bus.registerPio(0xe9, 1, port, 'debug');
  const irq = new FakeSource();
  const acc = createTcgAccelerator({ ram: [{ guestAddress: 0, size: 1 << 20 }], cpus: 1, bus, control: new SimpleRunControl() }, { interruptSources: [irq] });
  const code = assemble(`.intel_syntax noprefix
.code16
  xor ax, ax
  mov ds, ax
  mov ss, ax
  mov sp, 0x7000
  mov word ptr [0x80], offset handler
  mov word ptr [0x82], 0
${source}
handler:
  push ax
  mov al, 'I'
  out 0xe9, al
  pop ax
  iret
`, 16, 0x7c00);
  acc.memory.write(0x7c00, code);
  const vcpu = acc.vcpus[0];
  const sregs = vcpu.getSpecialRegisters();
  vcpu.setSpecialRegisters({ ...sregs, cs: { ...sregs.cs, base: 0n, selector: 0 } });
  vcpu.setRegisters({ ...vcpu.getRegisters(), rip: 0x7c00n });
  return { run: () => vcpu.run().kind, port, irq };
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
