import t from 'tap';
import { createTcgInterruptControllers } from '../src/tcg-fallback/tcg-interrupt-router';
import { VirtualClock, ManualTimeSource } from '../src/tcg-fallback/clock';
import { IoBus } from '../src/devices/bus';
import { memoryLogger } from '../src/log';
import {
  APIC_SVR, APIC_TPR, APIC_EOI, APIC_LVT_TIMER, APIC_TIMER_INITIAL, APIC_TIMER_CURRENT, APIC_TIMER_DIVIDE,
  APIC_ICR_LOW, APIC_ICR_HIGH, APIC_LDR, APIC_DFR, APIC_ID, APIC_VERSION_REG, APIC_PPR, APIC_ISR, APIC_IRR, APIC_TMR,
  APIC_LVT_LINT0, APIC_ESR, MSR_IA32_APIC_BASE, MSR_IA32_TSC_DEADLINE, LVT_TIMER_PERIODIC, LVT_TIMER_TSC_DEADLINE, LVT_MASKED,
} from '../src/tcg-fallback/lapic';

const APIC = 0xfee00000;
const IOAPIC = 0xfec00000;

function machine(vcpus = 2) {
  const host = new ManualTimeSource();
  const clock = new VirtualClock(host.now);
  clock.resume();
  const bus = new IoBus(memoryLogger());
  const woken: number[] = [];
  const c = createTcgInterruptControllers({ bus, vcpuCount: vcpus, clock, tscHz: 1_000_000_000, log: memoryLogger(), onVcpuPending: (i) => woken.push(i) });
  const u32 = new Uint8Array(4);
  /** 32-bit MMIO read/write as vCPU `cpu`. */
  const rd = (cpu: number, addr: number) => {
    c.beforeRun(cpu);
    bus.mmioRead(addr, u32);
    return new DataView(u32.buffer).getUint32(0, true);
  };
  const wr = (cpu: number, addr: number, v: number) => {
    c.beforeRun(cpu);
    const d = new Uint8Array(4);
    new DataView(d.buffer).setUint32(0, v >>> 0, true);
    bus.mmioWrite(addr, d);
  };
  const apicRd = (cpu: number, reg: number) => rd(cpu, APIC + reg);
  const apicWr = (cpu: number, reg: number, v: number) => wr(cpu, APIC + reg, v);
  const ioapicWr = (index: number, v: number) => { wr(0, IOAPIC, index); wr(0, IOAPIC + 0x10, v); };
  const ioapicRd = (index: number) => { wr(0, IOAPIC, index); return rd(0, IOAPIC + 0x10); };
  /** Linux's setup_local_APIC essentials: software enable with spurious vector 0xff, flat logical ID. */
  const enable = (cpu: number) => {
    // In APIC mode Linux masks every 8259 input.
    bus.pioWrite(0x21, 1, 0xff);
    bus.pioWrite(0xa1, 1, 0xff);
    apicWr(cpu, APIC_DFR, 0xffffffff);
    apicWr(cpu, APIC_LDR, (1 << cpu) << 24);
    apicWr(cpu, APIC_TPR, 0);
    apicWr(cpu, APIC_SVR, 0x1ff);
  };
  const run = (ns: number) => {
    const end = clock.now() + ns;
    for (;;) {
      const d = clock.nextDeadline();
      if (d === undefined || d > end) break;
      host.advance(d - clock.now());
      clock.runExpired();
    }
    host.advance(end - clock.now());
    clock.runExpired();
  };
  return { c, bus, clock, host, rd, wr, apicRd, apicWr, ioapicRd, ioapicWr, enable, run, woken };
}

t.test('IOAPIC: identity registers and an ISA IRQ routed to a LAPIC vector', async (t) => {
  const m = machine();
  t.equal(m.ioapicRd(0x01), 0x00170020, 'version 0x20, 24 entries');
  m.ioapicWr(0x00, 0x02000000);
  t.equal(m.ioapicRd(0x00), 0x02000000, 'ID');
  t.equal(m.ioapicRd(0x10) & (1 << 16), 1 << 16, 'pins start masked');
  m.enable(0);
  m.enable(1);
  // COM1 (IRQ 4) -> vector 0x24, fixed, physical destination APIC 1, edge, active high.
  m.ioapicWr(0x10 + 2 * 4, 0x24);
  m.ioapicWr(0x11 + 2 * 4, 1 << 24);
  t.equal(m.ioapicRd(0x10 + 2 * 4), 0x24);
  m.c.router.setIrq(4, true);
  const src = m.c.sources[1];
  t.ok(src.hasPendingInterrupt());
  t.notOk(m.c.sources[0].hasPendingInterrupt(), 'only the destination sees it');
  t.ok(m.woken.includes(1));
  t.equal(src.acknowledgeInterrupt(), 0x24);
  t.equal(m.apicRd(1, APIC_ISR + 0x10), 1 << 4, 'vector 0x24 in service');
  m.apicWr(1, APIC_EOI, 0);
  t.equal(m.apicRd(1, APIC_ISR + 0x10), 0);
  m.c.router.setIrq(4, false);
  // GSI 0 (PIT) arrives on pin 2.
  m.ioapicWr(0x10 + 2 * 2, 0x30);
  m.ioapicWr(0x11 + 2 * 2, 0);
  m.c.router.setIrq(0, true);
  m.c.router.setIrq(0, false);
  t.equal(m.c.sources[0].acknowledgeInterrupt(), 0x30);
});

t.test('IOAPIC level pins: remote IRR until EOI, re-delivery while asserted', async (t) => {
  const m = machine(1);
  m.enable(0);
  m.ioapicWr(0x10 + 2 * 10, 0x3a | (1 << 15) | (1 << 13)); // level, active low (PCI)
  m.c.router.setIrq(10, true);
  const src = m.c.sources[0];
  t.equal(src.acknowledgeInterrupt(), 0x3a);
  t.ok(m.ioapicRd(0x10 + 2 * 10) & (1 << 14), 'remote IRR set');
  t.equal(m.apicRd(0, APIC_TMR + 0x10) & (1 << 26), 1 << 26, 'TMR marks the level vector');
  m.c.router.setIrq(10, true);
  t.notOk(src.hasPendingInterrupt(), 'no second delivery before EOI');
  m.apicWr(0, APIC_EOI, 0);
  t.ok(src.hasPendingInterrupt(), 'still asserted at EOI: delivered again');
  t.equal(src.acknowledgeInterrupt(), 0x3a);
  m.c.router.setIrq(10, false);
  m.apicWr(0, APIC_EOI, 0);
  t.equal(m.ioapicRd(0x10 + 2 * 10) & (1 << 14), 0, 'remote IRR cleared by the EOI broadcast');
  t.notOk(src.hasPendingInterrupt());
  // An edge while masked is delivered on unmask.
  m.ioapicWr(0x10 + 2 * 5, 0x45 | (1 << 16));
  m.c.router.setIrq(5, true);
  m.c.router.setIrq(5, false);
  t.notOk(src.hasPendingInterrupt());
  m.ioapicWr(0x10 + 2 * 5, 0x45);
  t.equal(src.acknowledgeInterrupt(), 0x45);
});

t.test('LAPIC identity and reset state', async (t) => {
  const m = machine();
  t.equal(m.apicRd(0, APIC_ID), 0);
  t.equal(m.apicRd(1, APIC_ID), 1 << 24, 'each vCPU sees its own APIC at the same address');
  t.equal(m.apicRd(0, APIC_VERSION_REG), 0x00050014);
  t.equal(m.apicRd(0, APIC_SVR), 0xff, 'software disabled at reset');
  t.equal(m.c.sources[0].readMsr(MSR_IA32_APIC_BASE), 0xfee00900n, 'BSP flag and enable');
  t.equal(m.c.sources[1].readMsr(MSR_IA32_APIC_BASE), 0xfee00800n);
  t.equal(m.c.sources[0].writeMsr(MSR_IA32_APIC_BASE, 0xfee00c00n), false, 'x2APIC enable refused');
  t.equal(m.c.sources[0].readMsr(0x800), undefined, 'no x2APIC MSRs');
});

t.test('LAPIC timer: one-shot fires once at initial*divide bus cycles, current count counts down', async (t) => {
  const m = machine(1);
  m.enable(0);
  m.apicWr(0, APIC_TIMER_DIVIDE, 0x3); // divide by 16
  m.apicWr(0, APIC_LVT_TIMER, 0xec);
  m.apicWr(0, APIC_TIMER_INITIAL, 1_000_000); // 16 ms at 1 GHz / 16
  const src = m.c.sources[0];
  m.run(8_000_000);
  t.equal(m.apicRd(0, APIC_TIMER_CURRENT), 500_000);
  t.notOk(src.hasPendingInterrupt());
  m.run(8_000_000 - 1);
  t.notOk(src.hasPendingInterrupt(), 'not a nanosecond early');
  m.run(1);
  t.equal(src.acknowledgeInterrupt(), 0xec);
  t.equal(m.apicRd(0, APIC_TIMER_CURRENT), 0);
  m.apicWr(0, APIC_EOI, 0);
  m.run(100_000_000);
  t.notOk(src.hasPendingInterrupt(), 'one shot');
});

t.test('LAPIC timer: periodic keeps its phase; masking stops interrupts but not counting', async (t) => {
  const m = machine(1);
  m.enable(0);
  m.apicWr(0, APIC_TIMER_DIVIDE, 0xb); // divide by 1
  m.apicWr(0, APIC_LVT_TIMER, 0xef | LVT_TIMER_PERIODIC);
  m.apicWr(0, APIC_TIMER_INITIAL, 1_000_000); // 1 ms
  const src = m.c.sources[0];
  let count = 0;
  for (let i = 0; i < 10; i++) {
    m.run(1_000_000);
    if (src.hasPendingInterrupt()) {
      t.equal(src.acknowledgeInterrupt(), 0xef);
      m.apicWr(0, APIC_EOI, 0);
      count++;
    }
  }
  t.equal(count, 10);
  m.run(250_000);
  t.equal(m.apicRd(0, APIC_TIMER_CURRENT), 750_000);
  m.apicWr(0, APIC_LVT_TIMER, 0xef | LVT_TIMER_PERIODIC | LVT_MASKED);
  m.run(5_000_000);
  t.notOk(src.hasPendingInterrupt());
  t.equal(m.apicRd(0, APIC_TIMER_CURRENT), 750_000, 'still counting with the same phase');
});

t.test('TSC-deadline mode fires when the TSC reaches the deadline and clears the MSR', async (t) => {
  const m = machine(1);
  m.enable(0);
  m.apicWr(0, APIC_LVT_TIMER, 0xee | LVT_TIMER_TSC_DEADLINE);
  const src = m.c.sources[0];
  const now = m.c.tsc.read();
  src.writeMsr(MSR_IA32_TSC_DEADLINE, now + 2_000_000n); // TSC at 1 GHz: 2 ms
  t.equal(src.readMsr(MSR_IA32_TSC_DEADLINE), now + 2_000_000n);
  m.run(1_999_999);
  t.notOk(src.hasPendingInterrupt());
  m.run(1);
  t.equal(src.acknowledgeInterrupt(), 0xee);
  t.equal(src.readMsr(MSR_IA32_TSC_DEADLINE), 0n);
  t.equal(m.apicRd(0, APIC_TIMER_CURRENT), 0);
});

t.test('TPR/PPR masking, CR8 view, nested EOI order', async (t) => {
  const m = machine(1);
  m.enable(0);
  const src = m.c.sources[0];
  const lapic = m.c.lapics[0];
  lapic.accept({ vector: 0x51, deliveryMode: 0, logical: false, dest: 0, levelTriggered: false, assert: true, shorthand: 0 });
  m.apicWr(0, APIC_TPR, 0x60);
  t.notOk(src.hasPendingInterrupt(), 'class 5 below TPR class 6');
  t.equal(src.getTpr(), 6, 'CR8 = TPR[7:4]');
  src.setTpr(4);
  t.equal(m.apicRd(0, APIC_TPR), 0x40);
  t.ok(src.hasPendingInterrupt());
  t.equal(src.acknowledgeInterrupt(), 0x51);
  t.equal(m.apicRd(0, APIC_PPR), 0x50, 'PPR follows the in-service class');
  lapic.accept({ vector: 0x55, deliveryMode: 0, logical: false, dest: 0, levelTriggered: false, assert: true, shorthand: 0 });
  t.notOk(src.hasPendingInterrupt(), 'same class as in service: waits');
  lapic.accept({ vector: 0x91, deliveryMode: 0, logical: false, dest: 0, levelTriggered: false, assert: true, shorthand: 0 });
  t.equal(src.acknowledgeInterrupt(), 0x91, 'higher class nests');
  m.apicWr(0, APIC_EOI, 0);
  t.equal(m.apicRd(0, APIC_ISR + 0x20), 1 << 17, 'EOI retired 0x91 first, 0x51 still in service');
  m.apicWr(0, APIC_EOI, 0);
  t.equal(src.acknowledgeInterrupt(), 0x55);
  t.equal(m.apicRd(0, APIC_IRR + 0x20), 0);
});

t.test('IPIs: fixed physical/logical, broadcast shorthand, illegal vector, NMI, INIT and SIPI', async (t) => {
  const m = machine(3);
  for (let i = 0; i < 3; i++) m.enable(i);
  const [s0, s1, s2] = m.c.sources;
  // Physical fixed IPI 0 -> 1.
  m.apicWr(0, APIC_ICR_HIGH, 1 << 24);
  m.apicWr(0, APIC_ICR_LOW, 0xfd);
  t.equal(s1.acknowledgeInterrupt(), 0xfd);
  m.apicWr(1, APIC_EOI, 0);
  t.notOk(s2.hasPendingInterrupt());
  t.equal(m.apicRd(0, APIC_ICR_LOW) & (1 << 12), 0, 'delivery status idle');
  // Logical flat: LDR bits 1 and 2 -> CPUs 1 and 2.
  m.apicWr(0, APIC_ICR_HIGH, 0x06 << 24);
  m.apicWr(0, APIC_ICR_LOW, 0xfc | (1 << 11));
  t.ok(s1.hasPendingInterrupt() && s2.hasPendingInterrupt());
  t.notOk(s0.hasPendingInterrupt());
  s1.acknowledgeInterrupt();
  s2.acknowledgeInterrupt();
  m.apicWr(1, APIC_EOI, 0);
  m.apicWr(2, APIC_EOI, 0);
  // All excluding self.
  m.apicWr(2, APIC_ICR_LOW, 0xfb | (3 << 18));
  t.ok(s0.hasPendingInterrupt() && s1.hasPendingInterrupt());
  t.notOk(s2.hasPendingInterrupt());
  // Illegal vector: send error in ESR after the write-to-latch protocol.
  m.apicWr(0, APIC_ICR_LOW, 0x05);
  m.apicWr(0, APIC_ESR, 0);
  t.equal(m.apicRd(0, APIC_ESR), 0x20);
  // NMI.
  m.apicWr(0, APIC_ICR_HIGH, 2 << 24);
  m.apicWr(0, APIC_ICR_LOW, 4 << 8);
  t.ok(s2.takeNmi());
  t.notOk(s2.takeNmi(), 'taking it clears the latch');
  // Linux's wakeup_secondary_cpu_via_init: INIT assert, INIT de-assert, SIPI twice.
  m.apicWr(0, APIC_ICR_HIGH, 1 << 24);
  m.apicWr(0, APIC_ICR_LOW, (5 << 8) | (1 << 14) | (1 << 15));
  m.apicWr(0, APIC_ICR_LOW, (5 << 8) | (1 << 15));
  t.ok(s1.takeInit());
  t.equal(m.apicRd(1, APIC_SVR), 0xff, 'INIT reset the target APIC');
  t.equal(m.apicRd(1, APIC_ID), 1 << 24, 'but kept its ID');
  t.notOk(s1.hasPendingInterrupt(), 'and dropped its pending interrupts');
  m.apicWr(0, APIC_ICR_LOW, (6 << 8) | 0x9a);
  t.equal(s1.takeStartup(), 0x9a);
  t.equal(s1.takeStartup(), undefined);
  t.notOk(s2.takeInit());
});

t.test('MSI to a LAPIC; lowest priority picks the lower TPR', async (t) => {
  const m = machine(2);
  m.enable(0);
  m.enable(1);
  m.c.router.signalMsi(0xfee01000, 0x4041); // dest 1, vector 0x41
  t.equal(m.c.sources[1].acknowledgeInterrupt(), 0x41);
  m.apicWr(1, APIC_EOI, 0);
  m.apicWr(0, APIC_TPR, 0x20);
  m.c.router.signalMsi(0xfee03004, 0x0142); // logical dest 0b11, lowest priority
  t.ok(m.c.sources[1].hasPendingInterrupt());
  t.notOk(m.c.sources[0].hasPendingInterrupt());
  m.c.router.signalMsi(0x12345678, 0x42);
  t.pass('a write outside 0xfeexxxxx is ignored');
});

t.test('PIC through LINT0 virtual wire on the BSP only', async (t) => {
  const m = machine(2);
  const { pic } = m.c;
  for (const [port, v] of [[0x20, 0x11], [0x21, 0x30], [0x21, 0x04], [0x21, 0x01], [0x21, 0xfe]] as const) m.bus.pioWrite(port, 1, v);
  m.c.router.setIrq(0, true);
  m.c.router.setIrq(0, false);
  t.ok(pic.hasInterrupt());
  t.ok(m.c.sources[0].hasPendingInterrupt(), 'BSP LINT0 is ExtINT after reset');
  t.notOk(m.c.sources[1].hasPendingInterrupt());
  m.apicWr(0, APIC_SVR, 0x1ff);
  m.apicWr(0, APIC_LVT_LINT0, 0x700 | LVT_MASKED);
  t.notOk(m.c.sources[0].hasPendingInterrupt(), 'masked LINT0 blocks the PIC');
  m.apicWr(0, APIC_LVT_LINT0, 0x700);
  t.equal(m.c.sources[0].acknowledgeInterrupt(), 0x30);
});

t.test('hostile MMIO never throws; whole-set save/restore keeps timers running', async (t) => {
  const m = machine(2);
  t.doesNotThrow(() => {
    for (let off = 0; off < 0x1000; off += 4) {
      if (off === APIC_ICR_LOW || off === 0x380) continue;
      m.wr(0, APIC + off, 0xdeadbeef);
      m.rd(1, APIC + off);
    }
    m.bus.mmioWrite(APIC + 0x81, Uint8Array.of(1, 2, 3));
    m.bus.mmioRead(APIC + 0x83, new Uint8Array(8));
    for (let i = 0; i < 0x100; i++) m.ioapicWr(i, 0xffffffff);
    m.bus.mmioWrite(IOAPIC + 0x13, Uint8Array.of(1));
  });
  const fresh = machine(1);
  fresh.enable(0);
  fresh.apicWr(0, APIC_LVT_TIMER, 0xe0 | LVT_TIMER_PERIODIC);
  fresh.apicWr(0, APIC_TIMER_DIVIDE, 0xb);
  fresh.apicWr(0, APIC_TIMER_INITIAL, 2_000_000);
  fresh.run(500_000);
  const state = JSON.parse(JSON.stringify(fresh.c.save()));
  const other = machine(1);
  other.c.restore(state);
  t.equal(other.clock.now(), 500_000);
  t.equal(other.apicRd(0, APIC_TIMER_CURRENT), 1_500_000);
  other.run(1_500_000);
  t.equal(other.c.sources[0].acknowledgeInterrupt(), 0xe0, 'timer re-armed after restore');
});

t.test('GSI wiring: ISA IRQs reach the PIC and the IOAPIC, IRQ0 on pin 2, PCI GSIs only the IOAPIC', async (t) => {
  const m = machine(1);
  const seen: number[] = [];
  const ioapic = m.c.ioapic;
  const original = ioapic.setIrq.bind(ioapic);
  ioapic.setIrq = (pin: number, level: boolean) => { if (level) seen.push(pin); original(pin, level); };
  for (const gsi of [0, 1, 2, 8, 16, 23, 24, -1]) m.c.router.setIrq(gsi, true);
  t.same(seen, [2, 1, 8, 16, 23], 'GSI 2 drives nothing on the IOAPIC; 24 and -1 are ignored');
  m.bus.pioWrite(0x20, 1, 0x0a);
  t.equal(m.bus.pioRead(0x20, 1) & 0x03, 0x03, 'PIC saw IRQ0 and IRQ1');
});
