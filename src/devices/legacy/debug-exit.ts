/**
 * QEMU's isa-debug-exit: a write of v to the port ends the VM with exit
 * status (v << 1) | 1, so a test guest can report pass/fail without a
 * console. The odd status can never be mistaken for a clean exit 0.
 * Reads return 0 (QEMU's region has no read side either).
 */
import { AccessSize, PioDevice } from '../bus';

export const DEBUG_EXIT_PORT = 0xf4;
/** QEMU's default iosize; the machine may register up to 4 ports. */
export const DEBUG_EXIT_IOSIZE = 1;

export interface DebugExitOptions {
  onExit: (status: number) => void;
}

/** Stateless: save()/restore() exist for uniformity with other devices. */
export type DebugExitState = Record<string, never>;

export function debugExitStatus(value: number): number {
  // exit() keeps only the low 8 bits; we return the full value and let the
  // caller truncate when it ends the process.
  const v = Number.isFinite(value) ? Math.trunc(value) >>> 0 : 0;
  return v * 2 + 1;
}

export class DebugExit implements PioDevice {
  private readonly onExit: (status: number) => void;

  constructor(opts: DebugExitOptions) {
    this.onExit = opts.onExit;
  }

  pioRead(_offset: number, _size: AccessSize): number {
    return 0;
  }

  /** Any offset inside the registered range and any width counts, as in QEMU. */
  pioWrite(_offset: number, size: AccessSize, value: number): void {
    const width = size === 1 || size === 2 || size === 4 ? size : 4;
    const v = Number.isFinite(value) ? Math.trunc(value) : 0;
    const masked = width === 4 ? v >>> 0 : v & ((1 << (width * 8)) - 1);
    this.onExit(debugExitStatus(masked));
  }

  save(): DebugExitState {
    return {};
  }

  restore(_state: DebugExitState): void {}
}
