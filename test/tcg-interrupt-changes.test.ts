/**
 * The CPU asks its interrupt controllers for a deliverable interrupt at every
 * block boundary; with InterruptChanges it asks again only after something in
 * them changed. These tests hold both sides to that: the CPU skips the query
 * while the count stands and still takes an interrupt as soon as a change is
 * counted, and every way the guest or a device can make an interrupt
 * deliverable bumps the count (a missed one would leave the guest waiting).
 */
import t from 'tap';
import { CpuInterruptSource, InterruptChanges } from '../src/tcg-fallback/cpu-interrupt-port';
import { createTcgInterruptControllers } from '../src/tcg-fallback/tcg-interrupt-router';
import { VirtualClock, ManualTimeSource } from '../src/tcg-fallback/clock';
import { APIC_EOI, APIC_ICR_LOW, APIC_LVT_LINT0, APIC_LVT_TIMER, APIC_SVR, APIC_TIMER_INITIAL, APIC_TPR, MSR_IA32_APIC_BASE } from '../src/tcg-fallback/lapic';
import { IoBus } from '../src/devices/bus';
import { memoryLogger } from '../src/log';
import { realModeIrqGuest } from './helpers/real-mode-irq-guest';

/** An interrupt source that counts how often the CPU asks it, and counts its own changes. */
class CountingSource implements CpuInterruptSource {
  readonly changes = new InterruptChanges();
  asked = 0;
  private pending: number[] = [];
  raise(vector: number): void { this.pending.push(vector); this.changes.count++; }
  hasPendingInterrupt(): boolean { this.asked++; return this.pending.length > 0; }
  acknowledgeInterrupt(): number { return this.pending.shift() as number; }
  takeNmi(): boolean { return false; }
  takeInit(): boolean { return false; }
  takeStartup(): number | undefined { return undefined; }
  getTpr(): number { return 0; }
  setTpr(): void { /* no TPR */ }
}

t.test('the CPU asks the controllers again only after a change, and takes the interrupt that change brought', async (t) => {
  const source = new CountingSource();
  // IF set, a loop of 20000 iterations (many block boundaries), then HLT; the interrupt handler prints 'I'.
  const { run, port } = realModeIrqGuest(`
  sti
  mov cx, 20000
again:
  dec cx
  jnz again
  mov al, 'L'
  out 0xe9, al
  hlt
  mov al, 'A'
  out 0xe9, al
  cli
  hlt`, source);
  /** Runs slices until the vCPU halts. */
  const runToHalt = (): string => {
    for (let k = 0; k < 1000; k++) {
      const kind = run();
      if (kind !== 'kicked') return kind;
    }
    return 'still running';
  };
  t.equal(runToHalt(), 'halted');
  t.equal(port.text, 'L', 'the loop ran to its end');
  t.ok(source.asked <= 3, `asked ${source.asked} times over 20000 block boundaries with nothing changed`);
  // Halted with nothing changed: still nothing to take.
  t.equal(runToHalt(), 'halted');
  t.equal(port.text, 'L');
  source.raise(0x20);
  t.equal(runToHalt(), 'halted');
  t.equal(port.text, 'LIA', 'the interrupt raised after the CPU settled was taken at once');
});

t.test('every change that can make an interrupt deliverable bumps the count', async (t) => {
  const host = new ManualTimeSource();
  const clock = new VirtualClock(host.now);
  clock.resume();
  const bus = new IoBus(memoryLogger());
  const c = createTcgInterruptControllers({ bus, vcpuCount: 2, clock, tscHz: 1_000_000_000, log: memoryLogger() });
  const bsp = c.sources[0], ap = c.sources[1];
  const apicWrite = (cpu: number, reg: number, v: number): void => {
    c.beforeRun(cpu);
    const d = new Uint8Array(4);
    new DataView(d.buffer).setUint32(0, v >>> 0, true);
    bus.mmioWrite(0xfee00000 + reg, d);
  };
  const bumps = (what: string, counter: InterruptChanges, change: () => void): void => {
    const before = counter.count;
    change();
    t.ok(counter.count > before, what);
  };
  bumps('a LAPIC register write (SVR enable)', bsp.changes, () => apicWrite(0, APIC_SVR, 0x1ff));
  bumps('a TPR write through MMIO', bsp.changes, () => apicWrite(0, APIC_TPR, 0x20));
  bumps('a TPR write through CR8', bsp.changes, () => bsp.setTpr(0));
  bumps('an EOI', bsp.changes, () => apicWrite(0, APIC_EOI, 0));
  bumps('an LVT LINT0 write (virtual wire)', bsp.changes, () => apicWrite(0, APIC_LVT_LINT0, 0x700));
  bumps('the APIC base MSR', bsp.changes, () => bsp.writeMsr(MSR_IA32_APIC_BASE, 0xfee00900n));
  bumps('a self-IPI (ICR, fixed, vector 0x40)', bsp.changes, () => apicWrite(0, APIC_ICR_LOW, 0x40040));
  bumps('an IPI reaches the other vCPU', ap.changes, () => { apicWrite(1, APIC_SVR, 0x1ff); apicWrite(0, APIC_ICR_LOW, 0xc4041); });
  bumps('an MSI', ap.changes, () => c.router.signalMsi(0xfee01000, 0x45));
  bumps('the LAPIC timer expiring', bsp.changes, () => {
    apicWrite(0, APIC_LVT_TIMER, 0x50);
    apicWrite(0, APIC_TIMER_INITIAL, 100);
    const before = bsp.changes.count;
    host.advance(1_000_000);
    clock.runExpired();
    t.ok(bsp.changes.count > before, 'counted when the timer fired, not only at the register writes');
  });
  // The PIC is wired to the BSP only: its output rising counts there.
  bus.pioWrite(0x20, 1, 0x11); bus.pioWrite(0x21, 1, 0x08); bus.pioWrite(0x21, 1, 0x04); bus.pioWrite(0x21, 1, 0x01);
  bus.pioWrite(0x21, 1, 0xfe); // only IRQ0 unmasked
  const apBefore = ap.changes.count;
  bumps('the PIC output rising (IRQ 0 raised)', bsp.changes, () => c.router.setIrq(0, true));
  t.equal(ap.changes.count, apBefore, 'the PIC does not count on a vCPU it is not wired to');
});
