/**
 * The software CPU with the interrupt controllers and timers KVM would keep
 * in the kernel: PIC pair, PIT, IOAPIC, one LAPIC per vCPU, on a virtual clock.
 */
import { Accelerator, AcceleratorConfig } from '../accel';
import { createTcgAccelerator } from '../tcg-fallback/accelerator';
import { createTcgInterruptControllers } from '../tcg-fallback/tcg-interrupt-router';
import { ApicBaseMsr } from '../tcg-fallback/msr';
import { Platform } from './platform';

const MSR_IA32_APIC_BASE = 0x1b;

export function createTcg(config: AcceleratorConfig, platform: Platform): Accelerator {
  // One clock for the platform's timers (RTC) and the CPU's (PIT, LAPICs): guest time is one thing.
  const irq = createTcgInterruptControllers({ bus: config.bus, vcpuCount: config.cpus, clock: platform.clock });
  const apicBaseMsrs: ApicBaseMsr[] = irq.sources.map((source) => ({
    readApicBase: () => source.readMsr(MSR_IA32_APIC_BASE) ?? 0n,
    writeApicBase: (value: bigint) => { source.writeMsr(MSR_IA32_APIC_BASE, value); },
  }));
  const accel = createTcgAccelerator(config, { interruptSources: [...irq.sources], interrupts: irq.router, apicBaseMsrs });
  platform.router.attach(irq.router);
  platform.attachSoftwareTimers(irq);
  return accel;
}
