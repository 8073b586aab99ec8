/**
 * The opcode -> handler table. Opcodes nobody registered stop the vCPU with
 * an error naming the bytes (they are gaps in this emulator, not invalid
 * instructions); opcodes that are architecturally invalid raise #UD.
 */
import type { Cpu, Handler } from './cpu';
import type { DecodedInstruction } from './decoder';
import { OPCODE_COUNT } from './decoder-tables';
import { CpuException } from './cpu-exception';
import { VEC_UD, VEC_NM, CR0_EM, CR0_TS } from './cpu-constants';
import { registerIntegerOps } from './ops-integer';
import { registerStringOps } from './ops-string';
import { registerSystemOps, farIndirect } from './ops-system';
import { registerSseOps } from './ops-sse';
import { registerX87Ops } from './ops-x87';
import { registerFxsaveOps } from './ops-fxsave';

function describe(i: DecodedInstruction): string {
  const map = i.opcode >> 8;
  const prefix = ['', '0f ', '0f 38 ', '0f 3a '][map];
  const b = (i.opcode & 0xff).toString(16).padStart(2, '0');
  const ext = i.mod !== 3 || map !== 0 ? ` /${i.regField}` : '';
  return `${prefix}${b}${ext}${i.simdPrefix ? ` (prefix ${i.simdPrefix.toString(16)})` : ''}`;
}

const unimplemented: Handler = (cpu: Cpu, i: DecodedInstruction) => {
  cpu.unimplemented(`opcode ${describe(i)}`);
};

const invalid: Handler = () => { throw new CpuException(VEC_UD, undefined); };

/** Architecturally invalid or unreported-extension opcodes: #UD as on a CPU without them. */
const INVALID = [
  0x0f04, 0x10a, 0x10c, 0x10e, 0x10f, 0x124, 0x125, 0x126, 0x127, 0x136, 0x137, 0x139, 0x13b, 0x13c, 0x13d, 0x13e, 0x13f,
  0x1a6, 0x1a7, 0x1aa, 0x1b9, 0x1ff,
  // VMX (VMREAD/VMWRITE) and SSE3 (HADD/HSUB, ADDSUBPS, LDDQU): not reported in CPUID.
  0x104, 0x178, 0x179, 0x17a, 0x17b, 0x17c, 0x17d, 0x1d0, 0x1f0,
];

export function buildHandlerTable(): Handler[] {
  const t: Handler[] = new Array<Handler>(OPCODE_COUNT).fill(unimplemented);
  // 0F 38 / 0F 3A: only MOVBE is implemented; the rest belong to SSSE3+ which CPUID does not report.
  for (let op = 0x200; op < 0x400; op++) t[op] = invalid;
  for (const op of INVALID) if (op < OPCODE_COUNT) t[op] = invalid;
  registerIntegerOps(t, { callJmpFar: farIndirect });
  registerStringOps(t);
  registerSystemOps(t);
  registerSseOps(t);
  registerX87Ops(t);
  registerFxsaveOps(t);
  // BOUND (62) is gone in 64-bit mode (EVEX prefix space, AVX-512 not reported).
  t[0x62] = (cpu, i) => { if (cpu.is64) invalid(cpu, i); else unimplemented(cpu, i); };
  return t;
}

/** #NM rule for x87/MMX (CR0.EM or CR0.TS) and SSE (CR0.TS; EM makes SSE #UD). */
export function checkFpuAvailable(cpu: Cpu, sse: boolean): void {
  if (sse && (cpu.cr0 & CR0_EM) !== 0) throw new CpuException(VEC_UD, undefined);
  if ((cpu.cr0 & (CR0_TS | (sse ? 0 : CR0_EM))) !== 0) throw new CpuException(VEC_NM, undefined);
}
