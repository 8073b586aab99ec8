/**
 * Translator family: data movement and the narrower or carry-using ALU
 * forms, inline. Returns true when instruction k of the block was emitted
 * (it then falls through to the next instruction).
 */
import type { Block } from './block';
import type { Emitter } from './emitter';

export function emitData(e: Emitter, block: Block, k: number): boolean {
  void e; void block; void k;
  return false;
}
