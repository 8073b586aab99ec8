/**
 * The PC platform devices every machine has, independent of the accelerator:
 * COM1, the i8042 (for the reset line), and QEMU's isa-debug-exit port for
 * test guests. The software CPU adds its interrupt controllers and timers
 * (src/machine/create-accelerator.ts) through `attachSoftwareTimers`.
 */
import { IoBus } from '../devices/bus';
import { lineFor } from '../devices/irq';
import { DeferredInterruptRouter } from '../devices/deferred-router';
import { COM1_IRQ, COM1_PORT, SERIAL_PORT_COUNT, Serial16550 } from '../devices/legacy/serial';
import { I8042 } from '../devices/legacy/i8042';
import { DEBUG_EXIT_PORT, DebugExit } from '../devices/legacy/debug-exit';
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
  private timers: SoftwareTimers | undefined;
  private powerButton: (() => void) | undefined;

  constructor(readonly bus: IoBus, writeConsole: (bytes: Uint8Array) => void, hooks: PlatformHooks) {
    this.serial = new Serial16550({ irq: lineFor(this.router, COM1_IRQ), output: writeConsole });
    bus.registerPio(COM1_PORT, SERIAL_PORT_COUNT, this.serial, 'serial0 (COM1)');
    const i8042 = new I8042({ onReset: () => hooks.onResetRequest() });
    i8042.register(bus);
    bus.registerPio(DEBUG_EXIT_PORT, 4, new DebugExit({ onExit: (status) => hooks.onDebugExit(status) }), 'isa-debug-exit');
  }

  /**
   * QMP system_powerdown / HMP system_powerdown: the ACPI power button. Without
   * an ACPI PM device (raw guests) the press goes nowhere, as on QEMU's
   * `-machine none`.
   */
  pressPowerButton(): void {
    this.powerButton?.();
  }

  /** The ACPI PM device registers how it raises its power-button event. */
  setPowerButton(press: () => void): void {
    this.powerButton = press;
  }

  attachSoftwareTimers(timers: SoftwareTimers): void {
    this.timers = timers;
  }

  beforeRun(vcpuIndex: number): void {
    this.timers?.beforeRun(vcpuIndex);
  }

  msUntilNextTimer(): number | undefined {
    return this.timers?.msUntilNextTimer();
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
