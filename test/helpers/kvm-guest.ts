/**
 * Running tiny raw guests under KVM in tests: open /dev/kvm or explain in one
 * line why the KVM tests skip; build an accelerator with a probe device on
 * the I/O bus; assemble, load and start a guest in 16/32/64-bit mode.
 */
import { AccessSize, IoBus, MmioDevice, PioDevice } from '../../src/devices/bus';
import { SimpleRunControl } from '../../src/accel';
import { createKvmAccelerator, KvmAccelerator } from '../../src/kvm/accelerator';
import { Kvm } from '../../src/kvm/kvm';
import { CpuMode, setupRawMode } from '../../src/machine/cpu-mode-setup';
import { memoryLogger } from '../../src/log';
import { assemble } from './assemble';

/** Why KVM tests cannot run here, or undefined when /dev/kvm opens. */
export function kvmSkipReason(): string | undefined {
  try {
    Kvm.open().close();
    return undefined;
  } catch (e) {
    return `no /dev/kvm: ${(e as Error).message}`;
  }
}

export const GUEST_LOAD_ADDRESS = 0x8000;
export const GUEST_SCRATCH = 0x10000;
/** Writing any value here ends the guest's run: the probe asks the vCPU loop to stop. */
export const DONE_PORT = 0xf4;
export const PROBE_PORT = 0x10;
export const PROBE_MMIO = 0xd0000000;

export interface Access {
  kind: 'pio-read' | 'pio-write' | 'mmio-read' | 'mmio-write';
  offset: number;
  size: number;
  /** Written value (PIO: number; MMIO: the bytes as a little-endian bigint). */
  value: bigint;
}

/** Records every access; reads answer from queues or a pattern. */
export class Probe implements PioDevice, MmioDevice {
  readonly accesses: Access[] = [];
  /** Values returned by the next PIO reads, in order; then 0x5a5a5a5a truncated. */
  readonly pioReplies: number[] = [];
  constructor(private readonly onDone: () => void) {}

  pioRead(offset: number, size: AccessSize): number {
    const v = (this.pioReplies.shift() ?? 0x5a5a5a5a) & (size === 4 ? 0xffffffff : (1 << (size * 8)) - 1);
    this.accesses.push({ kind: 'pio-read', offset, size, value: BigInt(v >>> 0) });
    return v >>> 0;
  }

  pioWrite(offset: number, size: AccessSize, value: number): void {
    if (offset === DONE_PORT - PROBE_PORT) {
      this.onDone();
      return;
    }
    this.accesses.push({ kind: 'pio-write', offset, size, value: BigInt(value >>> 0) });
  }

  /** MMIO reads answer bytes offset+1, offset+2, ... so each size is recognisable. */
  mmioRead(offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) data[i] = (offset + 1 + i) & 0xff;
    this.accesses.push({ kind: 'mmio-read', offset, size: data.length, value: 0n });
  }

  mmioWrite(offset: number, data: Uint8Array): void {
    let v = 0n;
    for (let i = data.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[i]);
    this.accesses.push({ kind: 'mmio-write', offset, size: data.length, value: v });
  }
}

export interface RawGuest {
  acc: KvmAccelerator;
  /** For tests that put real devices next to the probe. */
  bus: IoBus;
  probe: Probe;
  control: SimpleRunControl;
}

export interface RawGuestOptions {
  mode: CpuMode;
  /** GNU as source; loaded at GUEST_LOAD_ADDRESS. The 16/32-bit modes add .code16/.code32. */
  source: string;
  ram?: { guestAddress: number; size: number }[];
}

/** Builds a 1-vCPU KVM machine with the probe at PIO 0x10..0xff and MMIO 0xd0000000, and loads the guest. */
export function startRawGuest(options: RawGuestOptions): RawGuest {
  const bus = new IoBus(memoryLogger());
  const control = new SimpleRunControl();
  const probe = new Probe(() => control.requestStop());
  bus.registerPio(PROBE_PORT, 0x100 - PROBE_PORT, probe, 'probe');
  bus.registerMmio(PROBE_MMIO, 0x1000, probe, 'probe');
  const acc = createKvmAccelerator({ ram: options.ram ?? [{ guestAddress: 0, size: 0x200000 }], cpus: 1, bus, control });
  try {
    const prefix = options.mode === 16 ? '.code16\n' : options.mode === 32 ? '.code32\n' : '';
    const code = assemble(prefix + options.source, { loadAddress: GUEST_LOAD_ADDRESS, bits: options.mode === 64 ? 64 : 32 });
    acc.memory.write(GUEST_LOAD_ADDRESS, code);
    setupRawMode(acc.vcpus[0], acc.memory, options.mode, GUEST_LOAD_ADDRESS, GUEST_SCRATCH);
  } catch (e) {
    acc.destroy();
    throw e;
  }
  return { acc, bus, probe, control };
}

/** The guest epilogue: tell the probe we are done, then park. */
export const GUEST_DONE = `
  out %al, $${DONE_PORT}
1: hlt
  jmp 1b
`;
