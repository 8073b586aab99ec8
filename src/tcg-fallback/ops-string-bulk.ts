/**
 * REP MOVS and REP STOS forward in 64-bit addressing, many elements at a
 * time: what Linux's memcpy, memset, clear_page and copy to/from user
 * compile to (with ERMS/FSRM, `rep movsb` and `rep stosb`). Element by
 * element (ops-string.ts) each byte costs a segment check, a TLB lookup and
 * a code-page check; here one TLB lookup per page serves a TypedArray copy
 * or fill.
 *
 * Each step covers the elements that lie wholly inside one source page and
 * one destination page, both RAM, and commits RSI/RDI/RCX afterwards, so a
 * fault (raised by the translation, before anything is written) leaves the
 * state of the element-wise path: the instruction restarts at the first
 * element not done. The step is not taken (the caller goes on element by
 * element) for an element crossing a page, MMIO, and a forward copy onto
 * the bytes just after its source, where element-by-element copying repeats
 * the pattern and a block copy (memmove) would not.
 */
import type { Cpu } from './cpu';
import { SEG_ES, TWO_32 } from './cpu-constants';
import { ACCESS_READ, ACCESS_WRITE } from './mmu';

/** Bytes one execution of the instruction may move before it yields (interrupts are taken between executions). */
export const BULK_BYTES = 65536;

/**
 * Runs whole-page steps of REP MOVS (`movs`) or REP STOS (size 1/2/4/8,
 * DF clear, 64-bit addressing) until RCX is 0, `maxElements` are done, or
 * the next element needs the element-wise path. Returns the elements done.
 */
export function repForwardBulk(cpu: Cpu, movs: boolean, size: number, srcSeg: number, maxElements: number): number {
  const mmu = cpu.mmu;
  const user = cpu.cpl === 3;
  let done = 0;
  while (done < maxElements) {
    const count = cpu.hi[1] * TWO_32 + cpu.lo[1];
    if (count === 0) break;
    const dstOff = cpu.regAddress(7, 8);
    const dstLin = cpu.linear(SEG_ES, dstOff, size, true);
    let n = Math.min(count, maxElements - done, Math.floor((4096 - (dstLin & 0xfff)) / size));
    let srcOff = 0, srcLin = 0;
    if (movs) {
      srcOff = cpu.regAddress(6, 8);
      srcLin = cpu.linear(srcSeg, srcOff, size, false);
      n = Math.min(n, Math.floor((4096 - (srcLin & 0xfff)) / size));
    }
    if (n <= 0) break;
    const len = n * size;
    // Translate the source before the destination: the order the element-wise path faults in.
    // Read the source's entry before the destination's fill, which may take the same TLB slot.
    let src: Uint8Array | undefined, srcAt = 0, srcPhys = 0;
    if (movs) {
      const si = cpu.tlbIndex(srcLin, ACCESS_READ, user);
      src = mmu.bytes[si];
      srcAt = mmu.offsets[si] + (srcLin & 0xfff);
      srcPhys = mmu.physPages[si] + (srcLin & 0xfff);
    }
    const di = cpu.tlbIndex(dstLin, ACCESS_WRITE, user);
    const dst = mmu.bytes[di];
    if (dst === undefined || (movs && src === undefined)) break; // MMIO
    const dstPhys = mmu.physPages[di] + (dstLin & 0xfff);
    const dstAt = mmu.offsets[di] + (dstLin & 0xfff);
    if (movs && dstPhys > srcPhys && dstPhys < srcPhys + len) break; // a forward copy that repeats its pattern
    cpu.jit?.cache.noteStore(Math.floor(dstPhys / 4096)); // as any CPU store does
    if (movs) {
      dst.set((src as Uint8Array).subarray(srcAt, srcAt + len), dstAt);
      cpu.setRegAddress(6, 8, srcOff + len);
    } else fill(cpu, dst, dstAt, n, size, mmu.views[di] as DataView);
    cpu.setRegAddress(7, 8, dstOff + len);
    cpu.setRegAddress(1, 8, count - n);
    done += n;
  }
  return done;
}

/** STOS's n elements of rAX (low `size` bytes) at `at`. */
function fill(cpu: Cpu, bytes: Uint8Array, at: number, n: number, size: number, view: DataView): void {
  const lo = cpu.lo[0], hi = cpu.hi[0];
  const b0 = lo & 0xff;
  const uniform = size === 1
    || (size === 2 && (lo & 0xffff) === b0 * 0x0101)
    || (size >= 4 && lo >>> 0 === (b0 * 0x01010101) >>> 0 && (size === 4 || hi >>> 0 === lo >>> 0));
  if (uniform) { bytes.fill(b0, at, at + n * size); return; }
  for (let k = 0, p = at; k < n; k++, p += size) {
    if (size === 2) view.setUint16(p, lo & 0xffff, true);
    else { view.setUint32(p, lo, true); if (size === 8) view.setUint32(p + 4, hi, true); }
  }
}
