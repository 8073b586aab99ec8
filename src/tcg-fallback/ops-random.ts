/**
 * RDRAND and RDSEED (0F C7 /6, /7) from the host's CSPRNG. Linux credits
 * RDRAND to its entropy pool (RANDOM_TRUST_CPU), so the crng is ready at
 * boot; without it the first getrandom() waited for 256 timer-jitter
 * credits, hashing the pool with BLAKE2s in a loop for a second of guest
 * time (a tenth of a boot on this CPU).
 */
import { randomFillSync } from 'node:crypto';
import type { Cpu } from './cpu';
import type { DecodedInstruction } from './decoder';
import { CpuException } from './cpu-exception';
import { FLAG_CF } from './cpu-constants';
import { VEC_UD } from './cpu-constants';

/** Host randomness fetched in batches: one syscall per 512 RDRANDs rather than one each. */
const pool = new Uint32Array(1024);
let next = pool.length;

function random32(): number {
  if (next === pool.length) { randomFillSync(pool); next = 0; }
  return pool[next++];
}

/** RDRAND/RDSEED r16/32/64: always succeeds (CF=1, the other arithmetic flags clear). */
export function rdrand(cpu: Cpu, i: DecodedInstruction): void {
  if (i.mod !== 3 || i.rep !== 0) throw new CpuException(VEC_UD, undefined);
  cpu.setReg(i.opSize, i.rm, random32(), i.opSize === 8 ? random32() : 0, i);
  cpu.flags.setEager(FLAG_CF);
}
