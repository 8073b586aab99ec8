/** `info registers` text in QEMU's layout, which people and scripts already read. */
import { Registers, Segment, SpecialRegisters } from '../accel';

const hex = (v: bigint, width = 16): string => BigInt.asUintN(64, v).toString(16).padStart(width, '0');

function flagLetters(rflags: bigint): string {
  const bits: [number, string][] = [[11, 'O'], [10, 'D'], [7, 'S'], [6, 'Z'], [4, 'A'], [2, 'P'], [0, 'C']];
  return bits.map(([b, c]) => ((rflags >> BigInt(b)) & 1n ? c : '-')).join('');
}

function segmentAttributes(s: Segment): number {
  return (
    (s.type & 0xf) | (s.s ? 1 << 4 : 0) | ((s.dpl & 3) << 5) | (s.present ? 1 << 7 : 0) |
    (s.avl ? 1 << 12 : 0) | (s.l ? 1 << 13 : 0) | (s.db ? 1 << 14 : 0) | (s.g ? 1 << 15 : 0)
  ) << 8;
}

function segmentLine(name: string, s: Segment): string {
  return `${name.padEnd(3)}=${s.selector.toString(16).padStart(4, '0')} ${hex(s.base)} ${(s.limit >>> 0).toString(16).padStart(8, '0')} ${segmentAttributes(s).toString(16).padStart(8, '0')}`;
}

export function formatRegisters(r: Registers, s: SpecialRegisters): string {
  const cpl = s.cs.dpl;
  const lines = [
    `RAX=${hex(r.rax)} RBX=${hex(r.rbx)} RCX=${hex(r.rcx)} RDX=${hex(r.rdx)}`,
    `RSI=${hex(r.rsi)} RDI=${hex(r.rdi)} RBP=${hex(r.rbp)} RSP=${hex(r.rsp)}`,
    `R8 =${hex(r.r8)} R9 =${hex(r.r9)} R10=${hex(r.r10)} R11=${hex(r.r11)}`,
    `R12=${hex(r.r12)} R13=${hex(r.r13)} R14=${hex(r.r14)} R15=${hex(r.r15)}`,
    `RIP=${hex(r.rip)} RFL=${hex(r.rflags, 8)} [${flagLetters(r.rflags)}] CPL=${cpl} II=0 A20=1 SMM=0 HLT=0`,
    segmentLine('ES', s.es), segmentLine('CS', s.cs), segmentLine('SS', s.ss), segmentLine('DS', s.ds),
    segmentLine('FS', s.fs), segmentLine('GS', s.gs), segmentLine('LDT', s.ldt), segmentLine('TR', s.tr),
    `GDT=     ${hex(s.gdt.base)} ${s.gdt.limit.toString(16).padStart(8, '0')}`,
    `IDT=     ${hex(s.idt.base)} ${s.idt.limit.toString(16).padStart(8, '0')}`,
    `CR0=${hex(s.cr0, 8)} CR2=${hex(s.cr2)} CR3=${hex(s.cr3)} CR4=${hex(s.cr4, 8)}`,
    `EFER=${hex(s.efer)}`,
  ];
  return lines.join('\n') + '\n';
}
