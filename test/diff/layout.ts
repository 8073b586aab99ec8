/**
 * Where a differential test case lives in the (user-mode) address space.
 * The native runner maps the pages at exactly these addresses, so pointers
 * in registers and RIP-relative operands mean the same on both sides.
 */
import type { UserModeState, UserModeResult } from '../../src/tcg-fallback/user-mode-runner';

export const PAGE_SIZE = 4096;
export const CODE = 0x10000000n;
/** Two adjacent writable data pages, so accesses can straddle a page boundary. */
export const DATA = 0x10010000n;
export const DATA_SIZE = 2 * PAGE_SIZE;
export const STACK = 0x10020000n;
/** rsp at entry: the middle of the stack page, so pushes and pops both stay inside. */
export const STACK_TOP = STACK + 0x800n;
/** Readable, not writable: a store here is #PF with P=1 W=1 U=1. */
export const RODATA = 0x10030000n;
/** Never mapped: any access is #PF with P=0. */
export const UNMAPPED = 0x10040000n;

/** RFLAGS bits the harness compares (the rest are system flags). */
export const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, DF = 0x400, OF = 0x800;
export const ARITH_FLAGS = CF | PF | AF | ZF | SF | OF;
export const COMPARED_FLAGS = ARITH_FLAGS | DF;

/** The software CPU's user-mode interface, which the harness drives. */
export type { UserModeState, UserModeResult };

export interface PageSpec { address: bigint; bytes: Uint8Array; writable: boolean; executable: boolean }

export type RunUserMode = (options: {
  pages: PageSpec[];
  state: UserModeState;
  stopAt: bigint;
  maxInstructions: number;
}) => UserModeResult;

export function cloneState(s: UserModeState): UserModeState {
  return {
    gpr: [...s.gpr],
    rip: s.rip,
    rflags: s.rflags,
    xmm: new Uint8Array(s.xmm),
    mxcsr: s.mxcsr,
    x87: s.x87 ? { ...s.x87, st: [...s.x87.st] } : undefined,
    fsBase: s.fsBase,
    gsBase: s.gsBase,
  };
}
