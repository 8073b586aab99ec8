/**
 * String instructions (MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS) with REP
 * prefixes, address-size-selected rSI/rDI/rCX and DF. Each iteration commits
 * its register updates, so a fault in the middle leaves a state from which
 * the instruction restarts exactly. Long REP runs yield after a batch by
 * re-executing the same instruction, so interrupts are not delayed.
 */
import type { Cpu, Handler } from './cpu';
import type { DecodedInstruction } from './decoder';
import { aluBinary, ALU_CMP } from './alu';
import { FLAG_DF, SEG_DS, SEG_ES, TWO_32 } from './cpu-constants';
import { checkIoPermission } from './io-permission';
import type { AccessSize } from '../devices/bus';
import { BULK_BYTES, repForwardBulk } from './ops-string-bulk';

const BATCH = 4096;
const KIND_MOVS = 0, KIND_CMPS = 1, KIND_STOS = 2, KIND_LODS = 3, KIND_SCAS = 4, KIND_INS = 5, KIND_OUTS = 6;

function counter(cpu: Cpu, as: number): number {
  if (as === 8) return cpu.hi[1] * TWO_32 + cpu.lo[1];
  return as === 4 ? cpu.lo[1] : cpu.lo[1] & 0xffff;
}

function advance(cpu: Cpu, r: number, as: number, delta: number): void {
  const v = cpu.regAddress(r, as) + delta;
  cpu.setRegAddress(r, as, as === 8 ? v : as === 4 ? v >>> 0 : v & 0xffff);
}

function stringOp(cpu: Cpu, i: DecodedInstruction, kind: number): void {
  const size = (i.opcode & 1) === 0 ? 1 : i.opSize;
  const as = i.addrSize;
  const delta = (cpu.eflagsSys & FLAG_DF) !== 0 ? -size : size;
  const srcSeg = i.segOverride >= 0 ? i.segOverride : SEG_DS;
  const rep = i.rep !== 0;
  const port = cpu.lo[2] & 0xffff;
  if (kind === KIND_INS || kind === KIND_OUTS) checkIoPermission(cpu, port, size);
  // Forward REP MOVS/STOS in 64-bit addressing move whole pages at a time where they can (ops-string-bulk.ts).
  const bulk = rep && delta > 0 && as === 8 && (kind === KIND_MOVS || kind === KIND_STOS);
  const batch = bulk ? Math.max(BATCH, BULK_BYTES / size) : BATCH;
  for (let n = 0; ; n++) {
    if (rep) {
      if (counter(cpu, as) === 0) return;
      if (bulk) {
        n += repForwardBulk(cpu, kind === KIND_MOVS, size, srcSeg, batch - n);
        if (counter(cpu, as) === 0) return;
      }
      if (n >= batch) { cpu.nextRip = cpu.rip; return; }
    }
    switch (kind) {
      case KIND_MOVS: {
        const v = cpu.read(srcSeg, cpu.regAddress(6, as), size);
        cpu.write(SEG_ES, cpu.regAddress(7, as), size, v, cpu.vhi);
        advance(cpu, 6, as, delta);
        advance(cpu, 7, as, delta);
        break;
      }
      case KIND_STOS: {
        const v = cpu.getReg(size, 0);
        cpu.write(SEG_ES, cpu.regAddress(7, as), size, v, cpu.vhi);
        advance(cpu, 7, as, delta);
        break;
      }
      case KIND_LODS: {
        const v = cpu.read(srcSeg, cpu.regAddress(6, as), size);
        cpu.setReg(size, 0, v, cpu.vhi);
        advance(cpu, 6, as, delta);
        break;
      }
      case KIND_CMPS: {
        // ES:[rDI] is read first: when both operands fault, the host reports the destination's #PF.
        const b = cpu.read(SEG_ES, cpu.regAddress(7, as), size);
        const bh = cpu.vhi;
        const a = cpu.read(srcSeg, cpu.regAddress(6, as), size);
        aluBinary(cpu.flags, ALU_CMP, size, a, cpu.vhi, b, bh);
        advance(cpu, 6, as, delta);
        advance(cpu, 7, as, delta);
        break;
      }
      case KIND_SCAS: {
        const b = cpu.read(SEG_ES, cpu.regAddress(7, as), size);
        const bh = cpu.vhi;
        const a = cpu.getReg(size, 0);
        aluBinary(cpu.flags, ALU_CMP, size, a, cpu.vhi, b, bh);
        advance(cpu, 7, as, delta);
        break;
      }
      case KIND_INS: {
        const lin = cpu.linear(SEG_ES, cpu.regAddress(7, as), size, true);
        cpu.probeWrite(lin, size);
        const v = cpu.bus.pioRead(port, size as AccessSize);
        cpu.writeLinear(lin, size, v, 0);
        advance(cpu, 7, as, delta);
        break;
      }
      default: {
        const v = cpu.read(srcSeg, cpu.regAddress(6, as), size);
        cpu.bus.pioWrite(port, size as AccessSize, v);
        advance(cpu, 6, as, delta);
        break;
      }
    }
    if (!rep) return;
    const left = counter(cpu, as) - 1;
    cpu.setRegAddress(1, as, as === 8 ? left : left >>> 0);
    if (kind === KIND_CMPS || kind === KIND_SCAS) {
      const zf = cpu.flags.zf();
      if (i.rep === 0xf3 ? !zf : zf) return;
    }
  }
}

export function registerStringOps(t: Handler[]): void {
  const bind = (kind: number): Handler => (cpu, i) => stringOp(cpu, i, kind);
  t[0xa4] = t[0xa5] = bind(KIND_MOVS);
  t[0xa6] = t[0xa7] = bind(KIND_CMPS);
  t[0xaa] = t[0xab] = bind(KIND_STOS);
  t[0xac] = t[0xad] = bind(KIND_LODS);
  t[0xae] = t[0xaf] = bind(KIND_SCAS);
  t[0x6c] = t[0x6d] = bind(KIND_INS);
  t[0x6e] = t[0x6f] = bind(KIND_OUTS);
}
