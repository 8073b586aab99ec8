/**
 * Interrupt wiring of a PC under the software CPU, and the function that
 * builds the whole set of controllers for N vCPUs.
 *
 * GSIs follow QEMU's/KVM's PC routing: ISA IRQs 0-15 drive the PIC pair and
 * the IOAPIC pin of the same number, except that IRQ 0 (the PIT) lands on
 * IOAPIC pin 2 (the interrupt source override every PC firmware reports) and
 * nothing drives pin 0 or, through GSI 2, the PIC's cascade input. GSIs
 * 16-23 (PCI INTx) reach only the IOAPIC. MSIs go to the local APICs.
 */
import { IoBus } from '../devices/bus';
import { InterruptRouter, lineFor } from '../devices/irq';
import { Logger, defaultLogger } from '../log';
import { SYSTEM_CONTROL_PORT_B, SystemControlPort, SystemControlPortState } from '../devices/legacy/system-control-port';
import { VirtualClock, VirtualClockState } from './clock';
import { TscClock, TscState, DEFAULT_TSC_HZ } from './clock-tsc';
import { PicPair, PicPairState } from './pic';
import { Pit, PitState, PIT_IRQ } from './pit';
import { IoApic, IoApicState, IOAPIC_PINS } from './ioapic';
import { ApicBus } from './lapic-bus';
import { Lapic, LapicState } from './lapic';
import { LapicMmioRouter } from './lapic-mmio';
import { VcpuInterruptSource } from './interrupt-source';

/** ISA IRQ 0 is wired to IOAPIC pin 2 on PCs (ACPI MADT interrupt source override). */
export const ISA_TIMER_IOAPIC_PIN = 2;

export class TcgInterruptRouter implements InterruptRouter {
  constructor(private readonly pic: PicPair, private readonly ioapic: IoApic, private readonly apicBus: ApicBus) {}

  setIrq(gsi: number, level: boolean): void {
    if (!Number.isInteger(gsi) || gsi < 0) return;
    if (gsi < 16) this.pic.setIrq(gsi, level);
    if (gsi === 0) this.ioapic.setIrq(ISA_TIMER_IOAPIC_PIN, level);
    else if (gsi !== ISA_TIMER_IOAPIC_PIN && gsi < IOAPIC_PINS) this.ioapic.setIrq(gsi, level);
  }

  signalMsi(address: number, data: number): void {
    this.apicBus.deliverMsi(address, data);
  }
}

export interface TcgInterruptControllersOptions {
  bus: IoBus;
  vcpuCount: number;
  /** Shared with the CPU (RDTSC goes through `tsc`); a new one is made if absent. The caller resumes it. */
  clock?: VirtualClock;
  tscHz?: number;
  apicBusHz?: number;
  log?: Logger;
  /** Something became pending for vCPU `index` (wake it if halted). */
  onVcpuPending?: (index: number) => void;
  /** Register port 0x61 (default true). */
  registerSystemControlPort?: boolean;
}

export interface TcgInterruptControllersState {
  clock: VirtualClockState;
  tsc: TscState;
  pic: PicPairState;
  ioapic: IoApicState;
  lapics: LapicState[];
  pit: PitState;
  systemControlPort: SystemControlPortState;
}

export interface TcgInterruptControllers {
  readonly clock: VirtualClock;
  readonly tsc: TscClock;
  readonly pic: PicPair;
  readonly pit: Pit;
  readonly systemControlPort: SystemControlPort;
  readonly ioapic: IoApic;
  readonly apicBus: ApicBus;
  readonly lapics: readonly Lapic[];
  readonly lapicMmio: LapicMmioRouter;
  readonly router: TcgInterruptRouter;
  /** One per vCPU, in vCPU order; index 0 is the BSP and the only one the PIC reaches. */
  readonly sources: readonly VcpuInterruptSource[];
  /** Before running vCPU `index`: run due timers and route APIC MMIO to its LAPIC. */
  beforeRun(vcpuIndex: number): void;
  /** Milliseconds until the next timer (for a loop where every vCPU is halted), or undefined. */
  msUntilNextTimer(): number | undefined;
  save(): TcgInterruptControllersState;
  restore(state: TcgInterruptControllersState): void;
}

export function createTcgInterruptControllers(opts: TcgInterruptControllersOptions): TcgInterruptControllers {
  const log = opts.log ?? defaultLogger;
  const vcpuCount = Math.max(1, Math.min(255, Math.trunc(opts.vcpuCount) || 1));
  const clock = opts.clock ?? new VirtualClock();
  const tsc = new TscClock(clock, opts.tscHz ?? DEFAULT_TSC_HZ);
  const pic = new PicPair();
  const apicBus = new ApicBus();
  const ioapic = new IoApic(apicBus);
  const router = new TcgInterruptRouter(pic, ioapic, apicBus);
  const lapics: Lapic[] = [];
  for (let i = 0; i < vcpuCount; i++) {
    lapics.push(new Lapic({
      index: i, bus: apicBus, clock, tsc, isBsp: i === 0, busHz: opts.apicBusHz, log,
      onPending: opts.onVcpuPending ? () => opts.onVcpuPending?.(i) : undefined,
    }));
  }
  if (opts.onVcpuPending) pic.onOutputChange = (level) => { if (level) opts.onVcpuPending?.(0); };
  const pit = new Pit({ clock, irq: lineFor(router, PIT_IRQ) });
  const systemControlPort = new SystemControlPort({ pit, nowNs: () => clock.now() });
  const lapicMmio = new LapicMmioRouter(lapics, log);
  const sources = lapics.map((l, i) => new VcpuInterruptSource(l, i === 0 ? pic : undefined));

  pic.register(opts.bus);
  pit.register(opts.bus);
  if (opts.registerSystemControlPort !== false) opts.bus.registerPio(SYSTEM_CONTROL_PORT_B, 1, systemControlPort, 'port 0x61');
  ioapic.register(opts.bus);
  lapicMmio.register(opts.bus);

  return {
    clock, tsc, pic, pit, systemControlPort, ioapic, apicBus, lapics, lapicMmio, router, sources,
    beforeRun(vcpuIndex: number): void {
      clock.runExpired();
      lapicMmio.currentCpu = vcpuIndex;
    },
    msUntilNextTimer(): number | undefined {
      const ns = clock.nsUntilNextDeadline();
      return ns === undefined ? undefined : ns / 1e6;
    },
    save(): TcgInterruptControllersState {
      return {
        clock: clock.save(), tsc: tsc.save(), pic: pic.save(), ioapic: ioapic.save(),
        lapics: lapics.map((l) => l.save()), pit: pit.save(), systemControlPort: systemControlPort.save(),
      };
    },
    restore(s: TcgInterruptControllersState): void {
      // Time first: the timers of the PIT and the LAPICs re-arm against it.
      clock.restore(s.clock);
      tsc.restore(s.tsc);
      pic.restore(s.pic);
      ioapic.restore(s.ioapic);
      (Array.isArray(s.lapics) ? s.lapics : []).slice(0, lapics.length).forEach((ls, i) => lapics[i].restore(ls));
      pit.restore(s.pit);
      systemControlPort.restore(s.systemControlPort);
    },
  };
}
