/**
 * Starts the first accelerator of a candidate list that works (QEMU's
 * `-accel kvm:tcg` semantics) and attaches its interrupt routing to the
 * platform's devices.
 */
import { Accelerator, AcceleratorConfig } from '../accel';
import { Logger } from '../log';
import { AccelName } from './vm-config';
import { Platform } from './platform';
import { createKvmAccelerator } from '../kvm/accelerator';
import { createTcg } from './create-tcg';

export class NoAcceleratorError extends Error {
  override name = 'NoAcceleratorError';
}

function startOne(name: AccelName, config: AcceleratorConfig, platform: Platform, log: Logger): Accelerator {
  if (name === 'kvm') {
    const accel = createKvmAccelerator({ ...config, log: config.log ?? log });
    platform.router.attach(accel.interrupts);
    return accel;
  }
  return createTcg(config, platform);
}

export function createAccelerator(candidates: AccelName[], config: AcceleratorConfig, platform: Platform, log: Logger): Accelerator {
  const failures: string[] = [];
  for (const name of candidates) {
    try {
      return startOne(name, config, platform, log);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      failures.push(`${name}: ${msg}`);
      if (candidates.length > 1) log.warn(`accelerator ${name} did not start (${msg}); trying the next one`);
    }
  }
  throw new NoAcceleratorError(failures.length === 1 ? failures[0] : `no accelerator started (${failures.join('; ')})`);
}
