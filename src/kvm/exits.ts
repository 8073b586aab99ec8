/**
 * Decoding struct kvm_run after KVM_RUN into a typed union. The vCPU loop
 * handles I/O and MMIO straight from the page without building these objects
 * (no allocation per exit); this decoder serves tests, tracing and error
 * messages.
 */
import { KvmExitReasons, KvmRunOffsets } from './binding';

export type KvmExit =
  | {
      kind: 'io';
      direction: 'in' | 'out';
      size: 1 | 2 | 4;
      port: number;
      /** Repetitions for string I/O (rep ins/outs); 1 otherwise. */
      count: number;
      /** Where in the kvm_run mapping the count*size data bytes are. */
      dataOffset: number;
    }
  | { kind: 'mmio'; address: number; length: number; isWrite: boolean; /** View into kvm_run: fill it for reads. */ data: Uint8Array }
  | { kind: 'hlt' }
  | { kind: 'shutdown' }
  | { kind: 'fail-entry'; hardwareReason: bigint; cpu: number }
  | { kind: 'internal-error'; suberror: number; data: bigint[] }
  | { kind: 'system-event'; type: number; data: bigint[] }
  | { kind: 'interrupted' }
  | { kind: 'irq-window-open' }
  | { kind: 'unknown'; reason: number; hardwareReason: bigint };

/** KVM_INTERNAL_ERROR_* suberrors, for messages. */
const INTERNAL_SUBERRORS: Record<number, string> = {
  1: 'emulation failure',
  2: 'simultaneous exceptions',
  3: 'delivery event failed',
  4: 'unexpected exit reason',
};

const TWO_POW_32 = 0x1_0000_0000;

export function decodeExit(
  reason: number,
  run: Uint8Array,
  offsets: KvmRunOffsets,
  reasons: KvmExitReasons,
): KvmExit {
  const dv = new DataView(run.buffer, run.byteOffset, run.byteLength);
  const u64s = (at: number, n: number): bigint[] =>
    Array.from({ length: Math.min(n, 16) }, (_, i) => dv.getBigUint64(at + i * 8, true));
  switch (reason) {
    case reasons.IO:
      return {
        kind: 'io',
        direction: dv.getUint8(offsets.ioDirection) === 1 ? 'out' : 'in',
        size: dv.getUint8(offsets.ioSize) as 1 | 2 | 4,
        port: dv.getUint16(offsets.ioPort, true),
        count: dv.getUint32(offsets.ioCount, true),
        dataOffset: Number(dv.getBigUint64(offsets.ioDataOffset, true)),
      };
    case reasons.MMIO: {
      const length = dv.getUint32(offsets.mmioLen, true);
      return {
        kind: 'mmio',
        address: dv.getUint32(offsets.mmioPhysAddr, true) + dv.getUint32(offsets.mmioPhysAddr + 4, true) * TWO_POW_32,
        length,
        isWrite: dv.getUint8(offsets.mmioIsWrite) !== 0,
        data: run.subarray(offsets.mmioData, offsets.mmioData + Math.min(length, 8)),
      };
    }
    case reasons.HLT:
      return { kind: 'hlt' };
    case reasons.SHUTDOWN:
      return { kind: 'shutdown' };
    case reasons.FAIL_ENTRY:
      return {
        kind: 'fail-entry',
        hardwareReason: dv.getBigUint64(offsets.failEntryReason, true),
        cpu: dv.getUint32(offsets.failEntryCpu, true),
      };
    case reasons.INTERNAL_ERROR:
      return {
        kind: 'internal-error',
        suberror: dv.getUint32(offsets.internalSuberror, true),
        data: u64s(offsets.internalData, dv.getUint32(offsets.internalNdata, true)),
      };
    case reasons.SYSTEM_EVENT:
      return {
        kind: 'system-event',
        type: dv.getUint32(offsets.systemEventType, true),
        data: u64s(offsets.systemEventData, dv.getUint32(offsets.systemEventNdata, true)),
      };
    case reasons.INTR:
      return { kind: 'interrupted' };
    case reasons.IRQ_WINDOW_OPEN:
      return { kind: 'irq-window-open' };
    default:
      return { kind: 'unknown', reason, hardwareReason: dv.getBigUint64(offsets.hwExitReason, true) };
  }
}

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

/** One line describing an exit the machine cannot go on from. */
export function describeExit(exit: KvmExit): string {
  switch (exit.kind) {
    case 'fail-entry':
      return `KVM_EXIT_FAIL_ENTRY: hardware entry failure reason ${hex(exit.hardwareReason)} on cpu ${exit.cpu}`;
    case 'internal-error':
      return `KVM_EXIT_INTERNAL_ERROR: suberror ${exit.suberror} (${INTERNAL_SUBERRORS[exit.suberror] ?? 'unknown'}), data [${exit.data.map(hex).join(', ')}]`;
    case 'unknown':
      return `unhandled KVM exit reason ${exit.reason} (hardware exit reason ${hex(exit.hardwareReason)})`;
    case 'io':
      return `I/O ${exit.direction} port ${hex(exit.port)} size ${exit.size} count ${exit.count}`;
    case 'mmio':
      return `MMIO ${exit.isWrite ? 'write' : 'read'} at ${hex(exit.address)} length ${exit.length}`;
    case 'system-event':
      return `KVM_EXIT_SYSTEM_EVENT type ${exit.type}`;
    default:
      return `KVM exit ${exit.kind}`;
  }
}
