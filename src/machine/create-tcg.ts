/**
 * The software CPU with the interrupt controllers and timers KVM would keep
 * in the kernel: PIC pair, PIT, IOAPIC, one LAPIC per vCPU, on a virtual clock.
 */
import { Accelerator, AcceleratorConfig } from '../accel';
import { TcgVcpu, createTcgAccelerator } from '../tcg-fallback/accelerator';
import { guestTimeFromEnv } from '../tcg-fallback/guest-time';
import { createTcgInterruptControllers } from '../tcg-fallback/tcg-interrupt-router';
import { Platform } from './platform';

export function createTcg(config: AcceleratorConfig, platform: Platform): Accelerator {
  // One clock for the platform's timers (RTC) and the CPU's (PIT, LAPICs): guest time is one thing.
  const irq = createTcgInterruptControllers({ bus: config.bus, vcpuCount: config.cpus, clock: platform.clock });
  const accel = createTcgAccelerator(config, {
    interruptSources: [...irq.sources],
    interrupts: irq.router,
    apicMsrs: [...irq.sources],
    // RDTSC and the LAPIC's TSC-deadline timer read the same virtual TSC, and timers run
    // between instruction batches, not only between slices, so they fire on time.
    platform: {
      tsc: irq.tsc,
      beforeRun: (index: number) => irq.beforeRun(index),
      instructionsUntilTimer: () => {
        const ns = irq.clock.nsUntilNextDeadline();
        return ns === undefined ? undefined : platform.guestTime.instructionsFor(ns);
      },
    },
  });
  platform.router.attach(irq.router);
  platform.attachSoftwareTimers(irq);
  if (guestTimeFromEnv() === 'instructions') {
    const cpus = accel.vcpus.filter((v): v is TcgVcpu => v instanceof TcgVcpu).map((v) => v.cpu);
    platform.guestTime.attach(() => {
      let total = 0;
      for (const cpu of cpus) total += cpu.instructionCount + cpu.pauseTime;
      return total;
    });
  }
  return accel;
}
