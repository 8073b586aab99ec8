/**
 * The translation cache: blocks by physical address + code size, the set of
 * guest pages holding cached code, and invalidation.
 *
 * - CPU writes: Cpu.writeLinear asks `isCodePage` on every RAM store (one
 *   typed-array load) and calls `invalidatePage` on a hit, which drops every
 *   block of that page; a block being executed stops after the current
 *   instruction (self-modifying code sees its own store at once).
 * - Device DMA bypasses the CPU, so `deviceEpoch` is bumped whenever devices
 *   may have run (each execute() call, port and MMIO accesses) and a block
 *   compares its byte snapshot with RAM on its first use in a new epoch.
 * - Remapping needs nothing here: the key is physical, found through the
 *   current TLB on every lookup (chains are only followed while the MMU
 *   generation is unchanged, see BlockRunner).
 */
import type { GuestMemory } from '../../memory/guest-memory';
import { Block } from './block';

export class BlockCache {
  private readonly blocks = new Map<number, Block>();
  private readonly byPage = new Map<number, Block[]>();
  /** Nonzero for guest physical pages (index: address / 4096) that hold cached blocks. */
  readonly codePages: Uint8Array;
  deviceEpoch = 0;
  /** Statistics (for profiles and tests). */
  built = 0;
  invalidations = 0;

  constructor(ramEnd: number) {
    this.codePages = new Uint8Array(Math.ceil(ramEnd / 4096));
  }

  /** A cache covering every RAM region of `memory`. */
  static forMemory(memory: GuestMemory): BlockCache {
    let ramEnd = 0;
    for (const r of memory.regions) ramEnd = Math.max(ramEnd, r.guestAddress + r.bytes.length);
    return new BlockCache(ramEnd);
  }

  get(key: number): Block | undefined { return this.blocks.get(key); }

  get size(): number { return this.blocks.size; }

  add(block: Block): void {
    const old = this.blocks.get(block.key);
    if (old !== undefined) old.valid = false;
    this.blocks.set(block.key, block);
    let list = this.byPage.get(block.physPage);
    if (list === undefined) { list = []; this.byPage.set(block.physPage, list); }
    list.push(block);
    if (block.physPage < this.codePages.length) this.codePages[block.physPage] = 1;
  }

  /** A store hit page `physPage`: every block decoded from it is stale. */
  invalidatePage(physPage: number): void {
    this.codePages[physPage] = 0;
    const list = this.byPage.get(physPage);
    if (list === undefined) return;
    this.byPage.delete(physPage);
    for (const b of list) {
      b.valid = false;
      if (this.blocks.get(b.key) === b) this.blocks.delete(b.key);
    }
    this.invalidations++;
  }

  /** True when the block's bytes still match guest RAM (after possible DMA). */
  static matches(block: Block, bytes: Uint8Array, pageStart: number): boolean {
    const snap = block.snapshot;
    const base = pageStart + block.pageOffset;
    for (let k = 0; k < snap.length; k++) if (bytes[base + k] !== snap[k]) return false;
    return true;
  }

  clear(): void {
    for (const b of this.blocks.values()) b.valid = false;
    this.blocks.clear();
    this.byPage.clear();
    this.codePages.fill(0);
  }
}
