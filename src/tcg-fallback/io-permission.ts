/**
 * I/O permission for IN/OUT/INS/OUTS: allowed when CPL <= IOPL, otherwise
 * every port bit in the TSS I/O bitmap must be clear (SDM vol. 1 18.5).
 */
import type { Cpu } from './cpu';
import { CpuException } from './cpu-exception';
import { FLAG_IOPL, FLAG_VM, VEC_GP } from './cpu-constants';

export function checkIoPermission(cpu: Cpu, port: number, size: number): void {
  if (!cpu.protectedMode) return;
  const iopl = (cpu.eflagsSys & FLAG_IOPL) >> 12;
  if ((cpu.eflagsSys & FLAG_VM) === 0 && cpu.cpl <= iopl) return;
  const tr = cpu.tr;
  // Only an available/busy 32- or 64-bit TSS has a bitmap.
  if ((tr.type & 7) !== 1 && (tr.type & 7) !== 3) throw new CpuException(VEC_GP, 0);
  // A TSS whose limit cannot hold the I/O map base field (or the map) denies everything without reading it.
  if ((tr.type & 8) === 0 || tr.limit <= 0x67) throw new CpuException(VEC_GP, 0);
  const mapBase = cpu.readSystem(tr.base + 0x66, 2);
  const at = mapBase + (port >> 3);
  if (at + 1 > tr.limit) throw new CpuException(VEC_GP, 0);
  const bits = cpu.readSystem(tr.base + at, 2);
  const mask = ((1 << size) - 1) << (port & 7);
  if ((bits & mask) !== 0) throw new CpuException(VEC_GP, 0);
}
