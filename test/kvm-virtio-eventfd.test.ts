/**
 * The KVM virtio data plane: a queue notify write lands in an ioeventfd
 * (no MMIO exit reaches the transport), the machine thread's event loop
 * serves the queue, and an MSI-X completion goes back through an irqfd
 * while the guest waits in HLT; with MSI-X off, the PCI INTx line goes out
 * through an irqfd with a resample fd. Tiny 32-bit guests drive a virtio-rng
 * on virtio-mmio (polling the used ring) and on virtio-pci (MSI-X vector 0,
 * or INTx through the in-kernel IOAPIC).
 * The rings live in guest RAM and are filled in by the test before the run.
 */
import t from 'tap';
import { PciHost } from '../src/devices/legacy/pci-host';
import { InterruptLine, RecordingLine, levelTriggeredLineFor, lineFor } from '../src/devices/irq';
import { pciIntxGsi } from '../src/devices/legacy/pci-irq-routing';
import { attachVirtioMmio, attachVirtioPci } from '../src/devices/virtio/attach';
import { Doorbells } from '../src/devices/virtio/doorbells';
import { VirtioPciTransport } from '../src/devices/virtio/pci/virtio-pci';
import { VirtioRng } from '../src/devices/virtio/rng/virtio-rng';
import { Kvm } from '../src/kvm/kvm';
import { LoopWaker } from '../src/kvm/loop-waker';
import { toolchainMissing } from './helpers/assemble';
import { GUEST_DONE, GUEST_SCRATCH, PROBE_PORT, RawGuest, kvmSkipReason, startRawGuest } from './helpers/kvm-guest';

function skipReason(): string | false {
  const reason = kvmSkipReason() ?? toolchainMissing();
  if (reason) return reason;
  const kvm = Kvm.open();
  try {
    for (const cap of ['IOEVENTFD', 'IRQFD', 'IRQ_ROUTING', 'IRQFD_RESAMPLE'] as const) {
      if (!kvm.checkExtension(cap)) return `KVM lacks KVM_CAP_${cap}`;
    }
  } finally {
    kvm.close();
  }
  return false;
}
const skip = skipReason();

const DESC = 0x100000;
const AVAIL = 0x101000;
const USED = 0x102000;
const BUF = 0x103000;
const MMIO_BASE = 0xd0001000; // next to the probe's page
const PCI_WINDOW = 0xe0000000;
const MSI_VECTOR = 0x41;

/** One 16-byte device-writable buffer made available on queue 0 (avail idx 1). */
function prepareRing(g: RawGuest): void {
  const m = g.acc.memory;
  m.writeU32(DESC, BUF);
  m.writeU32(DESC + 4, 0);
  m.writeU32(DESC + 8, 16);
  m.writeU16(DESC + 12, 2); // VIRTQ_DESC_F_WRITE
  m.writeU16(DESC + 14, 0);
  m.writeU16(AVAIL, 0);
  m.writeU16(AVAIL + 2, 1);
  m.writeU16(AVAIL + 4, 0);
}

/**
 * Runs vCPU 0 as the machine worker does: a LoopWaker armed around each
 * KVM_RUN, the event loop given a turn whenever the vCPU comes back, until
 * the guest reports the used index on the probe port.
 */
async function runUntilReport(g: RawGuest): Promise<number> {
  const vcpu = g.acc.vcpus[0];
  const waker = LoopWaker.create(vcpu.fd);
  for (let round = 0; round < 100; round++) {
    waker.arm(100);
    const stop = vcpu.run();
    waker.disarm();
    const report = g.probe.accesses.find((a) => a.kind === 'pio-write' && a.offset === 0);
    if (report) return Number(report.value);
    if (stop.kind !== 'kicked') throw new Error(`vCPU stopped: ${JSON.stringify(stop)}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('the guest never reported');
}

/** virtio-mmio: reset, features (VERSION_1 only), queue 0 at the rings above, DRIVER_OK, notify, poll. */
const MMIO_GUEST = `
  mov $${MMIO_BASE}, %ebx
  movl $0, 0x70(%ebx)
  movl $1, 0x70(%ebx)
  movl $3, 0x70(%ebx)
  movl $1, 0x24(%ebx)
  movl $1, 0x20(%ebx)
  movl $0xb, 0x70(%ebx)
  movl $0, 0x30(%ebx)
  movl $8, 0x38(%ebx)
  movl $${DESC}, 0x80(%ebx)
  movl $0, 0x84(%ebx)
  movl $${AVAIL}, 0x90(%ebx)
  movl $0, 0x94(%ebx)
  movl $${USED}, 0xa0(%ebx)
  movl $0, 0xa4(%ebx)
  movl $1, 0x44(%ebx)
  movl $0xf, 0x70(%ebx)
  movl $0, 0x50(%ebx)
1: pause
  cmpw $0, ${USED + 2}
  je 1b
  movzwl ${USED + 2}, %eax
  out %al, $${PROBE_PORT}
  ${GUEST_DONE}`;

function mmioScenario(g: RawGuest, doorbells: Doorbells | undefined): { notifyWrites: () => number } {
  const { transport } = attachVirtioMmio({
    bus: g.bus, base: MMIO_BASE, gsi: 5, irq: new RecordingLine(), device: new VirtioRng(), memory: g.acc.memory, doorbells,
  });
  let writes = 0;
  const write = transport.mmioWrite.bind(transport);
  transport.mmioWrite = (offset, data) => { if (offset === 0x50) writes++; write(offset, data); };
  prepareRing(g);
  return { notifyWrites: () => writes };
}

t.test('virtio-mmio QueueNotify goes through an ioeventfd, not an MMIO exit', { skip }, async (t) => {
  const g = startRawGuest({ mode: 32, source: MMIO_GUEST, ram: [{ guestAddress: 0, size: 0x200000 }] });
  t.teardown(() => g.acc.destroy());
  t.ok(g.acc.doorbells, 'the accelerator offers doorbells');
  const s = mmioScenario(g, g.acc.doorbells);
  t.equal(await runUntilReport(g), 1, 'the guest saw its buffer used');
  t.equal(s.notifyWrites(), 0, 'the transport never saw the notify write');
  t.equal(g.acc.doorbells?.rings, 1, 'the queue was rung once through the eventfd');
  t.not(g.acc.memory.readU32(BUF) | g.acc.memory.readU32(BUF + 4), 0, 'random bytes arrived');
});

t.test('without doorbells the same notify is an MMIO exit (the fallback path)', { skip }, async (t) => {
  const g = startRawGuest({ mode: 32, source: MMIO_GUEST, ram: [{ guestAddress: 0, size: 0x200000 }] });
  t.teardown(() => g.acc.destroy());
  const s = mmioScenario(g, undefined);
  t.equal(await runUntilReport(g), 1, 'the guest saw its buffer used');
  t.equal(s.notifyWrites(), 1, 'the notify write reached the transport');
  t.equal(g.acc.doorbells?.rings, 0, 'no eventfd rang');
});

/**
 * Guest code: an interrupt gate at 0x20000 for `vector` pointing at the
 * guest's `handler` label, the IDT loaded (the `idtr` label comes from
 * idtrFor) and the LAPIC software-enabled.
 */
function gateTo(vector: number): string {
  return `
  mov $handler, %eax
  mov $0x20000 + ${vector} * 8, %edi
  movw %ax, (%edi)
  movw %cs, 2(%edi)
  movw $0x8e00, 4(%edi)
  shr $16, %eax
  movw %ax, 6(%edi)
  lidt idtr
  movl $0x1ff, 0xfee000f0`;
}

function idtrFor(vector: number): string {
  return `
.align 4
idtr: .word ${vector} * 8 + 7
  .long 0x20000`;
}

/**
 * Guest code, with %ebx at BAR 4: reset, VERSION_1 only, queue 0 at the
 * rings above with MSI-X vector `msixVector` (0xffff: none), DRIVER_OK,
 * interrupts on, then a ring of the doorbell and HLT until an interrupt.
 */
function pciQueueZeroThenWait(msixVector: number): string {
  return `
  movb $0, 0x14(%ebx)
  movb $1, 0x14(%ebx)
  movb $3, 0x14(%ebx)
  movl $1, 0x8(%ebx)
  movl $1, 0xc(%ebx)
  movb $0xb, 0x14(%ebx)
  movw $0, 0x16(%ebx)
  movw $8, 0x18(%ebx)
  movw $${msixVector}, 0x1a(%ebx)
  movl $${DESC}, 0x20(%ebx)
  movl $0, 0x24(%ebx)
  movl $${AVAIL}, 0x28(%ebx)
  movl $0, 0x2c(%ebx)
  movl $${USED}, 0x30(%ebx)
  movl $0, 0x34(%ebx)
  movw $1, 0x1c(%ebx)
  movb $0xf, 0x14(%ebx)
  sti
  movw $0, 0x3000(%ebx)
1: hlt
  jmp 1b`;
}

/**
 * virtio-pci: the test places BAR 4 and enables MSI-X as firmware would; the
 * guest points vector 0 at its LAPIC (vector 0x41), sets queue 0 up with
 * that vector, rings the doorbell and waits in HLT for the interrupt. The
 * handler reports and stops instead of returning: IRET of 32-bit code is an
 * instruction this host's nested KVM (kvm_pvm) fails to emulate.
 */
const PCI_GUEST = `
  mov $0x90000, %esp
  ${gateTo(MSI_VECTOR)}
  mov $${PCI_WINDOW}, %ebx
  movl $0xfee00000, 0x4000(%ebx)
  movl $0, 0x4004(%ebx)
  movl $${MSI_VECTOR}, 0x4008(%ebx)
  movl $0, 0x400c(%ebx)
  ${pciQueueZeroThenWait(0)}
handler:
  movzwl ${USED + 2}, %eax
  out %al, $${PROBE_PORT}
  ${GUEST_DONE}
${idtrFor(MSI_VECTOR)}
`;

function enableMsix(transport: VirtioPciTransport): void {
  let cap = transport.configRead(0x34, 1);
  while (cap !== 0 && transport.configRead(cap, 1) !== 0x11) cap = transport.configRead(cap + 1, 1);
  if (cap === 0) throw new Error('no MSI-X capability');
  transport.configWrite(cap + 2, 2, 0x8000);
}

t.test('virtio-pci: doorbell via ioeventfd, MSI-X completion via irqfd into a halted guest', { skip }, async (t) => {
  const g = startRawGuest({ mode: 32, source: PCI_GUEST, ram: [{ guestAddress: 0, size: 0x200000 }] });
  t.teardown(() => g.acc.destroy());
  const doorbells = g.acc.doorbells;
  const irqfds = g.acc.msiIrqfds;
  if (!doorbells || !irqfds) throw new Error('KVM has the capabilities but the accelerator did not use them');
  const transports = new Map<number, VirtioPciTransport>();
  const host = new PciHost({
    bus: g.bus,
    intx: () => new RecordingLine(),
    onBarMoved: (slot, bar, address) => { if (bar === 4) transports.get(slot)?.bindDoorbells(doorbells, address); },
  });
  const { transport, slot } = attachVirtioPci({ host, device: new VirtioRng(), memory: g.acc.memory, router: g.acc.interrupts });
  transports.set(slot, transport);
  host.assignResources({ mmio32: { base: PCI_WINDOW, size: 0x100000 } });
  t.equal(transport.config.barAddress(4), PCI_WINDOW, 'BAR 4 placed where the guest expects it');
  enableMsix(transport);
  const bar = transport.barMmio(4);
  if (!bar) throw new Error('no BAR 4');
  let notifyWrites = 0;
  const write = bar.mmioWrite.bind(bar);
  bar.mmioWrite = (offset, data) => { if (offset >= 0x3000 && offset < 0x4000) notifyWrites++; write(offset, data); };
  prepareRing(g);

  t.equal(await runUntilReport(g), 1, 'the guest woke from HLT in its MSI handler and saw its buffer used');
  t.equal(notifyWrites, 0, 'the doorbell write never reached the transport');
  t.equal(doorbells.rings, 1, 'the queue was rung through the eventfd');
  t.equal(irqfds.sent, 1, 'the completion went out through an irqfd');
});

t.test('moving BAR 4 re-points the doorbells', { skip }, async (t) => {
  const g = startRawGuest({ mode: 32, source: GUEST_DONE });
  t.teardown(() => g.acc.destroy());
  const bound: number[] = [];
  const fake: Doorbells = {
    bind: (address) => { bound.push(address); return () => { bound.splice(bound.indexOf(address), 1); }; },
  };
  const host = new PciHost({ bus: g.bus, intx: () => new RecordingLine() });
  const { transport } = attachVirtioPci({ host, device: new VirtioRng(), memory: g.acc.memory, router: g.acc.interrupts });
  transport.bindDoorbells(fake, 0xe0000000);
  t.same(bound, [0xe0003000], 'one doorbell per queue at the notify capability');
  transport.bindDoorbells(fake, 0xe0100000);
  t.same(bound, [0xe0103000], 'the old one is gone');
  transport.bindDoorbells(fake, undefined);
  t.same(bound, [], 'an unmapped BAR has none');
});

t.test('MSI irqfds: more distinct messages than routes re-point the oldest route', { skip }, async (t) => {
  const g = startRawGuest({ mode: 32, source: GUEST_DONE });
  t.teardown(() => g.acc.destroy());
  const irqfds = g.acc.msiIrqfds;
  if (!irqfds) throw new Error('no MSI irqfds');
  // 100 messages (vectors 0x40..0xa3 to APIC 0) overflow the pool of 64; each still goes out.
  for (let i = 0; i < 100; i++) t.doesNotThrow(() => g.acc.interrupts.signalMsi(0xfee00000, 0x40 + i), `message ${i}`);
  t.doesNotThrow(() => g.acc.interrupts.signalMsi(0xfee00000, 0x40), 'a re-used message');
  t.equal(irqfds.sent, 101, 'every one through an irqfd');
});

/**
 * INTx: the guest routes the device's IOAPIC pin (level-triggered) to vector
 * 0x42 and waits in HLT. Its first interrupt EOIs without reading the ISR, so
 * the device still asserts its line: the pin must be raised again after that
 * EOI (through the resample fd on the irqfd path, by the IOAPIC itself on the
 * KVM_IRQ_LINE path). The second reads the ISR, which lowers the line, EOIs
 * and reports how many interrupts it took. Nested handlers, no IRET (see above).
 */
const INTX_VECTOR = 0x42;
const INTX_GSI = pciIntxGsi(1, 1); // the first free slot, INTA
const INTX_COUNT = GUEST_SCRATCH;
const INTX_GUEST = `
  mov $0x90000, %esp
  movl $0, ${INTX_COUNT}
  ${gateTo(INTX_VECTOR)}
  movl $${0x10 + 2 * INTX_GSI}, 0xfec00000
  movl $${0x8000 | INTX_VECTOR}, 0xfec00010
  movl $${0x11 + 2 * INTX_GSI}, 0xfec00000
  movl $0, 0xfec00010
  mov $${PCI_WINDOW}, %ebx
  ${pciQueueZeroThenWait(0xffff)}
handler:
  incl ${INTX_COUNT}
  cmpl $1, ${INTX_COUNT}
  jne 2f
  movl $0, 0xfee000b0
  sti
3: hlt
  jmp 3b
2: movb 0x1000(%ebx), %al
  movl $0, 0xfee000b0
  mov ${INTX_COUNT}, %eax
  out %al, $${PROBE_PORT}
  ${GUEST_DONE}
${idtrFor(INTX_VECTOR)}
`;

/** Runs INTX_GUEST against a virtio-rng whose INTx wires go to `intx`; resolves to the interrupts the guest took. */
async function runIntxGuest(g: RawGuest, intx: (gsi: number) => InterruptLine): Promise<number> {
  const host = new PciHost({ bus: g.bus, intx });
  const { slot } = attachVirtioPci({ host, device: new VirtioRng(), memory: g.acc.memory, router: g.acc.interrupts });
  if (pciIntxGsi(slot, 1) !== INTX_GSI) throw new Error(`the device landed in slot ${slot}, not the one the guest routes`);
  host.assignResources({ mmio32: { base: PCI_WINDOW, size: 0x100000 } });
  prepareRing(g);
  return runUntilReport(g);
}

t.test('virtio-pci INTx through an irqfd: still asserted at EOI, the resample fd raises it again', { skip }, async (t) => {
  const g = startRawGuest({ mode: 32, source: INTX_GUEST, ram: [{ guestAddress: 0, size: 0x200000 }] });
  t.teardown(() => g.acc.destroy());
  const irqfds = g.acc.intxIrqfds;
  if (!irqfds) throw new Error('KVM has KVM_CAP_IRQFD_RESAMPLE but the accelerator did not use it');
  t.equal(await runIntxGuest(g, (gsi) => levelTriggeredLineFor(g.acc.interrupts, gsi)), 2, 'the guest took two interrupts, then the ISR read lowered the line');
  // At least 2: the guest's unmasking of the pin is itself resampled (KVM asks again), and when
  // that report is served after the device raised its line, the pin is raised once more, harmlessly.
  t.ok(irqfds.raised >= 2, `both went out through the irqfd (${irqfds.raised} writes)`);
  t.ok(irqfds.resamples >= 1, 'KVM reported the first EOI through the resample fd');
});

t.test('virtio-pci INTx on KVM_IRQ_LINE (no resample irqfds) behaves the same', { skip }, async (t) => {
  const g = startRawGuest({ mode: 32, source: INTX_GUEST, ram: [{ guestAddress: 0, size: 0x200000 }] });
  t.teardown(() => g.acc.destroy());
  t.equal(await runIntxGuest(g, (gsi) => lineFor(g.acc.interrupts, gsi)), 2, 'the guest took two interrupts, then the ISR read lowered the line');
  t.equal(g.acc.intxIrqfds?.raised, 0, 'no irqfd was written');
});
