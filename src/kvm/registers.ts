/**
 * struct kvm_regs and struct kvm_sregs <-> the accelerator's Registers and
 * SpecialRegisters. Used at setup, snapshot and debug time, never per exit.
 */
import { DescriptorTable, Registers, Segment, SpecialRegisters } from '../accel';

const GPR_ORDER = [
  'rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'rflags',
] as const satisfies readonly (keyof Registers)[];

export const KVM_REGS_SIZE = GPR_ORDER.length * 8;

export function decodeRegs(raw: Uint8Array): Registers {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const regs = {} as Registers;
  GPR_ORDER.forEach((name, i) => { regs[name] = dv.getBigUint64(i * 8, true); });
  return regs;
}

export function encodeRegs(regs: Registers, raw: Uint8Array): void {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  GPR_ORDER.forEach((name, i) => dv.setBigUint64(i * 8, BigInt.asUintN(64, regs[name]), true));
}

// struct kvm_sregs: 8 segments of 24 bytes, gdt/idt of 16, then control registers.
const SEGMENT_SIZE = 24;
const SEGMENT_ORDER = ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'tr', 'ldt'] as const satisfies readonly (keyof SpecialRegisters)[];
const GDT_OFFSET = SEGMENT_ORDER.length * SEGMENT_SIZE;
const IDT_OFFSET = GDT_OFFSET + 16;
const CR_OFFSET = IDT_OFFSET + 16;
const CR_ORDER = ['cr0', 'cr2', 'cr3', 'cr4', 'cr8', 'efer', 'apicBase'] as const satisfies readonly (keyof SpecialRegisters)[];

function decodeSegment(dv: DataView, off: number): Segment {
  return {
    base: dv.getBigUint64(off, true),
    limit: dv.getUint32(off + 8, true),
    selector: dv.getUint16(off + 12, true),
    type: dv.getUint8(off + 14),
    present: dv.getUint8(off + 15) !== 0,
    dpl: dv.getUint8(off + 16),
    db: dv.getUint8(off + 17) !== 0,
    s: dv.getUint8(off + 18) !== 0,
    l: dv.getUint8(off + 19) !== 0,
    g: dv.getUint8(off + 20) !== 0,
    avl: dv.getUint8(off + 21) !== 0,
    unusable: dv.getUint8(off + 22) !== 0,
  };
}

function encodeSegment(dv: DataView, off: number, s: Segment): void {
  dv.setBigUint64(off, BigInt.asUintN(64, s.base), true);
  dv.setUint32(off + 8, s.limit >>> 0, true);
  dv.setUint16(off + 12, s.selector, true);
  dv.setUint8(off + 14, s.type);
  dv.setUint8(off + 15, s.present ? 1 : 0);
  dv.setUint8(off + 16, s.dpl);
  dv.setUint8(off + 17, s.db ? 1 : 0);
  dv.setUint8(off + 18, s.s ? 1 : 0);
  dv.setUint8(off + 19, s.l ? 1 : 0);
  dv.setUint8(off + 20, s.g ? 1 : 0);
  dv.setUint8(off + 21, s.avl ? 1 : 0);
  dv.setUint8(off + 22, s.unusable ? 1 : 0);
  dv.setUint8(off + 23, 0);
}

function decodeTable(dv: DataView, off: number): DescriptorTable {
  return { base: dv.getBigUint64(off, true), limit: dv.getUint16(off + 8, true) };
}

function encodeTable(dv: DataView, off: number, t: DescriptorTable): void {
  dv.setBigUint64(off, BigInt.asUintN(64, t.base), true);
  dv.setUint16(off + 8, t.limit, true);
}

export function decodeSregs(raw: Uint8Array): SpecialRegisters {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const sregs = {} as SpecialRegisters;
  SEGMENT_ORDER.forEach((name, i) => { sregs[name] = decodeSegment(dv, i * SEGMENT_SIZE); });
  sregs.gdt = decodeTable(dv, GDT_OFFSET);
  sregs.idt = decodeTable(dv, IDT_OFFSET);
  CR_ORDER.forEach((name, i) => { sregs[name] = dv.getBigUint64(CR_OFFSET + i * 8, true); });
  return sregs;
}

/**
 * Writes the fields of `sregs` into a raw kvm_sregs, leaving the pending
 * interrupt bitmap that follows them as it was in `raw`.
 */
export function encodeSregs(sregs: SpecialRegisters, raw: Uint8Array): void {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  SEGMENT_ORDER.forEach((name, i) => encodeSegment(dv, i * SEGMENT_SIZE, sregs[name]));
  encodeTable(dv, GDT_OFFSET, sregs.gdt);
  encodeTable(dv, IDT_OFFSET, sregs.idt);
  CR_ORDER.forEach((name, i) => dv.setBigUint64(CR_OFFSET + i * 8, BigInt.asUintN(64, sregs[name]), true));
}
