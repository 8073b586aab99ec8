/**
 * Translator family: multiplies (IMUL/MUL) and shifts/rotates, inline.
 * Returns true when instruction k of the block was emitted (it then falls
 * through to the next instruction; block ends are codegen's business).
 */
import type { Block } from './block';
import type { Emitter } from './emitter';

export function emitArith(e: Emitter, block: Block, k: number): boolean {
  void e; void block; void k;
  return false;
}
