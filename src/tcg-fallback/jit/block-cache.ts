/**
 * The translation cache: blocks by guest physical page, then by offset and
 * code size within the page; the set of pages holding cached code; and
 * invalidation.
 *
 * - CPU writes: Cpu.writeLinear asks `codePages` on every RAM store (one
 *   typed-array load) and calls `invalidatePage` on a hit, which drops every
 *   block of that page; a block being executed stops after the current
 *   instruction (self-modifying code sees its own store at once).
 * - Device DMA bypasses the CPU: devices announce it through
 *   GuestMemory.noteDmaWrite (virtqueues do when they hand a chain back), and
 *   the cache, listening, invalidates the code pages in the range. Nothing is
 *   re-checked on the dispatch path.
 * - Remapping needs nothing here: the key is physical, found through the
 *   current TLB on every lookup (chains are only followed while the MMU
 *   generation is unchanged, see BlockRunner).
 *
 * One cache serves every vCPU of a machine (they share its RAM).
 */
import type { GuestMemory } from '../../memory/guest-memory';
import { Block } from './block';
import { WasmSpace } from '../wasm/space';

/** Pages per directory chunk: the directory stays small for large RAM, and a lookup is two array loads. */
const CHUNK_SHIFT = 9;
const CHUNK_PAGES = 1 << CHUNK_SHIFT;

/** The blocks decoded from one guest physical page, by pageKey. Small integer keys: a fast Map. */
type PageBlocks = Map<number, Block>;

export class BlockCache {
  /** dir[physPage >> CHUNK_SHIFT][physPage & (CHUNK_PAGES - 1)]: that page's blocks. Chunks are made on first use. */
  private readonly dir: ((PageBlocks | undefined)[] | undefined)[];
  /** Nonzero for guest physical pages (index: address / 4096) that hold cached blocks. */
  readonly codePages: Uint8Array;
  /**
   * Bumped on device activity a running compiled self-loop must not outlive
   * (codegen leaves the loop when it moves): an MMIO access by a vCPU (see
   * BlockRunner.noteDeviceAccess) and announced DMA that invalidated code.
   * Nothing else reads it: it no longer triggers any re-check.
   */
  deviceEpoch = 0;
  /** Statistics (for profiles and tests). */
  built = 0;
  invalidations = 0;
  dmaInvalidations = 0;
  private count = 0;
  /** Listening to `memory` starts with the first block (a cache replaced before use never listens). */
  private unlisten: (() => void) | undefined;

  /** Told about each block with a WebAssembly translation when it is dropped (see wasm/tier.ts). */
  onDropTranslated: ((b: Block) => void) | undefined;

  /** `codePages`: the map, where translated WebAssembly code must read it too (WasmSpace.codePages). */
  constructor(ramEnd: number, private readonly memory?: GuestMemory, codePages?: Uint8Array) {
    this.codePages = codePages ?? new Uint8Array(Math.ceil(ramEnd / 4096));
    // Preallocated (dense) so high RAM above 4 GiB does not turn it into a slow sparse array.
    this.dir = new Array<(PageBlocks | undefined)[] | undefined>(Math.ceil(this.codePages.length / CHUNK_PAGES)).fill(undefined);
  }

  /** A cache covering every RAM region of `memory`, invalidated by the DMA `memory` announces. */
  static forMemory(memory: GuestMemory): BlockCache {
    let ramEnd = 0;
    for (const r of memory.regions) ramEnd = Math.max(ramEnd, r.guestAddress + r.bytes.length);
    return new BlockCache(ramEnd, memory, WasmSpace.of(memory)?.codePages());
  }

  /** The block at `key` (pageKey) in guest physical page `physPage`. */
  get(physPage: number, key: number): Block | undefined {
    const chunk = this.dir[physPage >>> CHUNK_SHIFT];
    if (chunk === undefined) return undefined;
    const page = chunk[physPage & (CHUNK_PAGES - 1)];
    return page === undefined ? undefined : page.get(key);
  }

  get size(): number { return this.count; }

  add(block: Block): void {
    if (this.unlisten === undefined && this.memory !== undefined) {
      this.unlisten = this.memory.onDmaWrite((address, length) => this.dmaWrite(address, length));
    }
    const p = block.physPage;
    let chunk = this.dir[p >>> CHUNK_SHIFT];
    if (chunk === undefined) {
      chunk = new Array<PageBlocks | undefined>(CHUNK_PAGES).fill(undefined);
      this.dir[p >>> CHUNK_SHIFT] = chunk;
    }
    let page = chunk[p & (CHUNK_PAGES - 1)];
    if (page === undefined) { page = new Map(); chunk[p & (CHUNK_PAGES - 1)] = page; }
    const old = page.get(block.key);
    if (old !== undefined) this.drop(old);
    else this.count++;
    page.set(block.key, block);
    if (p < this.codePages.length) this.codePages[p] = 1;
  }

  /** A CPU store into guest physical page `physPage`: drops the page's code if it holds any (one typed-array load otherwise). */
  noteStore(physPage: number): void {
    if (this.codePages[physPage] === 1) this.invalidatePage(physPage);
  }

  /** A store hit page `physPage`: every block decoded from it is stale. */
  invalidatePage(physPage: number): void {
    this.codePages[physPage] = 0;
    const chunk = this.dir[physPage >>> CHUNK_SHIFT];
    const page = chunk === undefined ? undefined : chunk[physPage & (CHUNK_PAGES - 1)];
    if (chunk === undefined || page === undefined) return;
    chunk[physPage & (CHUNK_PAGES - 1)] = undefined;
    for (const b of page.values()) this.drop(b);
    this.count -= page.size;
    this.invalidations++;
  }

  private drop(b: Block): void {
    b.valid = false;
    if (b.wasm !== undefined) this.onDropTranslated?.(b);
  }

  /** Device DMA wrote guest bytes [address, address+length): drop code cached from those pages. */
  dmaWrite(address: number, length: number): void {
    if (length <= 0) return;
    const pages = this.codePages;
    const last = Math.min(Math.floor((address + length - 1) / 4096), pages.length - 1);
    let hit = false;
    for (let p = Math.floor(address / 4096); p <= last; p++) {
      if (pages[p] !== 0) { this.invalidatePage(p); hit = true; }
    }
    if (hit) { this.deviceEpoch++; this.dmaInvalidations++; }
  }

  /** Stops listening to DMA (the cache is being dropped while its memory lives on). */
  detach(): void {
    this.unlisten?.();
    this.unlisten = undefined;
  }

  clear(): void {
    for (const chunk of this.dir) {
      if (chunk === undefined) continue;
      for (const page of chunk) if (page !== undefined) for (const b of page.values()) this.drop(b);
    }
    this.dir.fill(undefined);
    this.count = 0;
    this.codePages.fill(0);
  }
}
