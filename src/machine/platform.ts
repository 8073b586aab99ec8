/**
 * The PC platform devices every machine has, independent of the accelerator:
 * COM1, the i8042 (for the reset line), the CMOS RTC, the ACPI PM registers
 * (poweroff and the power button) and QEMU's isa-debug-exit port for test
 * guests. The software CPU adds its interrupt controllers and timers
 * (src/machine/create-accelerator.ts) through `attachSoftwareTimers`.
 */
import { IoBus } from '../devices/bus';
import { lineFor } from '../devices/irq';
import { DeferredInterruptRouter } from '../devices/deferred-router';
import { COM1_IRQ, COM1_PORT, SERIAL_PORT_COUNT, Serial16550 } from '../devices/legacy/serial';
import { I8042 } from '../devices/legacy/i8042';
import { DEBUG_EXIT_PORT, DebugExit } from '../devices/legacy/debug-exit';
import { AcpiPm } from '../devices/legacy/acpi-pm';
import { CmosRtc, RTC_IRQ, RTC_PORT, RTC_PORT_COUNT } from '../devices/legacy/rtc';
import { I8042_AUX_IRQ, I8042_KBD_IRQ } from '../devices/legacy/i8042';
import { VirtualClock } from '../tcg-fallback/clock';
import { GuestTime } from '../tcg-fallback/guest-time';
import { PM_IO_BASE, SCI_IRQ } from './acpi/pm';
import { VmConfig } from './vm-config';

export interface PlatformHooks {
  onDebugExit(status: number): void;
  onResetRequest(): void;
  onPowerOff(): void;
}

/** Timers that only exist under the software CPU (KVM keeps them in the kernel). */
export interface SoftwareTimers {
  /** Run expired timers and route the current vCPU's LAPIC accesses. */
  beforeRun(vcpuIndex: number): void;
  msUntilNextTimer(): number | undefined;
}

export class Platform {
  readonly router = new DeferredInterruptRouter();
  readonly serial: Serial16550;
  /**
   * Where guest time comes from: host time, until the software CPU attaches
   * its instruction count (see GuestTime). KVM guests keep host time.
   */
  readonly guestTime = new GuestTime();
  /**
   * Guest time for every timer device, stopped while the VM is paused.
   * Under KVM its timers (only the RTC's) run when the vCPU comes back from
   * KVM_RUN, so an RTC interrupt can be late while a vCPU sleeps in HLT.
   */
  readonly clock = new VirtualClock(this.guestTime.now);
  readonly rtc: CmosRtc;
  /** FADT's PM1a blocks: S5 poweroff from the guest, the power button from the host. */
  readonly acpiPm: AcpiPm;
  private timers: SoftwareTimers | undefined;

  constructor(readonly bus: IoBus, writeConsole: (bytes: Uint8Array) => void, hooks: PlatformHooks) {
    this.serial = new Serial16550({ irq: lineFor(this.router, COM1_IRQ), output: writeConsole });
    bus.registerPio(COM1_PORT, SERIAL_PORT_COUNT, this.serial, 'serial0 (COM1)');
    const i8042 = new I8042({
      onReset: () => hooks.onResetRequest(),
      // Wired so Linux's keyboard probe gets its answers by interrupt instead of waiting for timeouts.
      kbdIrq: lineFor(this.router, I8042_KBD_IRQ),
      auxIrq: lineFor(this.router, I8042_AUX_IRQ),
    });
    i8042.register(bus);
    bus.registerPio(DEBUG_EXIT_PORT, 4, new DebugExit({ onExit: (status) => hooks.onDebugExit(status) }), 'isa-debug-exit');
    this.acpiPm = new AcpiPm({ sci: lineFor(this.router, SCI_IRQ), onPowerOff: () => hooks.onPowerOff() });
    bus.registerPio(PM_IO_BASE, AcpiPm.ioLength, this.acpiPm, 'acpi-pm');
    this.rtc = new CmosRtc({ irq: lineFor(this.router, RTC_IRQ), timers: this.clock });
    bus.registerPio(RTC_PORT, RTC_PORT_COUNT, this.rtc, 'rtc (CMOS)');
    this.clock.resume();
  }

  /** Guest time stands still while the VM is paused, so it sees no jump and timers do not pile up. */
  pauseClock(): void {
    this.clock.pause();
  }

  resumeClock(): void {
    this.clock.resume();
  }

  /**
   * QMP system_powerdown / HMP system_powerdown: the ACPI power button. A
   * guest without an ACPI driver (raw test guests) never looks, as with
   * QEMU's `-machine none`.
   */
  pressPowerButton(): void {
    this.acpiPm.pressPowerButton();
  }

  attachSoftwareTimers(timers: SoftwareTimers): void {
    this.timers = timers;
  }

  beforeRun(vcpuIndex: number): void {
    if (this.timers) this.timers.beforeRun(vcpuIndex);
    else this.clock.runExpired();
  }

  msUntilNextTimer(): number | undefined {
    const ns = this.clock.nsUntilNextDeadline();
    return ns === undefined ? undefined : ns / 1e6;
  }
}

export function createPlatform(
  bus: IoBus,
  _config: VmConfig,
  io: { writeConsole(bytes: Uint8Array): void },
  hooks: PlatformHooks,
): Platform {
  return new Platform(bus, (bytes) => io.writeConsole(bytes), hooks);
}
