/**
 * The WebAssembly memory the software CPU's third tier runs in. Guest RAM
 * at physical address 0 (the region below the PCI hole, which holds the
 * kernel, its page tables and almost all of its data) is the start of one
 * WebAssembly.Memory, so translated blocks load and store guest bytes at
 * their physical address with no copying. After it lie, at fixed offsets:
 *
 * - the translation cache's code-page map (one byte per guest page: stores
 *   into a page holding translated code must leave the WebAssembly code);
 * - a tag per slot of the table of translated blocks, nonzero while the
 *   slot holds a valid block and different for each block it has held (a
 *   jump cache entry holds the tag it was made with, so an entry for a block
 *   whose page was written, or whose slot went to another block, misses);
 * - one state area per vCPU: the general registers (the Cpu's `lo`/`hi`
 *   arrays are views of it), the lazy-flags record, the TLB's read and write
 *   tags and host page offsets (the MMU's arrays are views of it), the
 *   values a translated block needs to check its links (CPL, MMU
 *   generations, FS/GS bases), and a jump cache from RIP to table slot.
 *
 * RAM above 4 GiB, MMIO and everything else stay outside: translated code
 * leaves to JavaScript for them.
 */
import type { GuestMemory, MemoryRegion } from '../../memory/guest-memory';

const PAGE = 65536;

/** Offsets inside a vCPU's state area (bytes). */
export const STATE_REG_LO = 0;
export const STATE_REG_HI = 64;
/** The lazy-flags record: op, size, res, resHi, a, aHi, b, bHi, cin, eager as uint32 (LazyFlags' fields). */
export const STATE_FLAGS = 128;
export const FLAG_OP = 0, FLAG_SIZE = 4, FLAG_RES = 8, FLAG_A = 16, FLAG_B = 24, FLAG_CIN = 32, FLAG_EAGER = 36;
/** RIP where translated code stopped (float64, as Cpu.rip). */
export const STATE_RIP = 176;
/** Instructions the run may still retire (int32): what it started with, less what retired. */
export const STATE_BUDGET = 188;
export const STATE_CPL = 192;
/** 0 or TLB_SIZE: the TLB half of the current CPL (supervisor, user). */
export const STATE_TLB_HALF = 196;
export const STATE_GENERATION = 200;
export const STATE_GLOBAL_GENERATION = 204;
export const STATE_FS_BASE = 208;
export const STATE_GS_BASE = 216;
/** The RIP a run must stop at (int64; a non-canonical value when there is none). */
export const STATE_STOP_AT = 224;
/** Where the dispatch found the next block when it is in another module (EXIT_CROSS): module number and table index (int32). */
export const STATE_NEXT_MODULE = 232;
export const STATE_NEXT_INDEX = 236;
/** TLB: read and write tags (float64, as Mmu's), host offsets of RAM pages (uint32; NO_HOST when not in this memory). */
export const STATE_TAG_READ = 1024;
export const TLB_ENTRIES = 2048;
export const STATE_TAG_WRITE = STATE_TAG_READ + TLB_ENTRIES * 8;
export const STATE_HOST = STATE_TAG_WRITE + TLB_ENTRIES * 8;
/** Jump cache: JUMP_ENTRIES entries of JUMP_ENTRY_SIZE bytes (fields at the JUMP_* offsets below). */
export const STATE_JUMP = STATE_HOST + TLB_ENTRIES * 4;
export const JUMP_BITS = 14;
export const JUMP_ENTRIES = 1 << JUMP_BITS;
export const JUMP_ENTRY_SHIFT = 6;
export const JUMP_ENTRY_SIZE = 1 << JUMP_ENTRY_SHIFT;
/**
 * In a jump cache entry (int32 fields but the RIP): the RIP (int64), the block's slot (its
 * number among translated blocks, which indexes the tags), the MMU generation it holds under,
 * the block's instruction count, the CPL, 1 when the generation is the global one (the block's
 * page came through a global translation, as ChainSlot.global), the slot's tag when the entry
 * was made, and where the block's function is: its module's number and its index in that
 * module's table (a block chains only to blocks of its own module; see tier.ts).
 */
export const JUMP_RIP = 0, JUMP_SLOT = 8, JUMP_GENERATION = 12, JUMP_COUNT = 16, JUMP_CPL = 20, JUMP_GLOBAL = 24, JUMP_TAG = 28,
  JUMP_MODULE = 32, JUMP_INDEX = 36;
const STATE_SIZE = STATE_JUMP + JUMP_ENTRIES * JUMP_ENTRY_SIZE;
/** State areas are whole 64 KiB pages apart. */
export const STATE_STRIDE = Math.ceil(STATE_SIZE / PAGE) * PAGE;

export const NO_HOST = 0xffffffff;

/** Slots (translated blocks alive at once; a boot has about 20,000). */
export const MAX_SLOTS = 1 << 18;

/** RAM at physical 0 may be a WebAssembly memory only when it fits below 4 GiB with the areas after it. */
const MAX_LOW_RAM = 3 * 2 ** 30;

export class WasmSpace {
  readonly memory: WebAssembly.Memory;
  readonly buffer: ArrayBuffer;
  /** Guest RAM at physical 0 (a view of the memory's start). */
  readonly ram: Uint8Array;
  /** Absolute offset of the code-page map (one byte per guest page up to `pageCount`). */
  readonly codePagesOffset: number;
  readonly pageCount: number;
  /** Absolute offset of the per-slot tags (uint32). */
  readonly slotTagsOffset: number;
  readonly slotTags: Uint32Array;
  private readonly stateOffset: number;
  private statesUsed = 0;

  /** State areas: one per vCPU (a Cpu made beyond them runs without the WebAssembly tier). */
  private readonly stateAreas: number;

  private constructor(ramSize: number, ramEnd: number, cpus: number) {
    this.stateAreas = cpus;
    this.pageCount = Math.ceil(ramEnd / 4096);
    const ramPages = Math.ceil(ramSize / PAGE);
    this.codePagesOffset = ramPages * PAGE;
    this.slotTagsOffset = this.codePagesOffset + Math.ceil(this.pageCount / PAGE) * PAGE;
    this.stateOffset = this.slotTagsOffset + MAX_SLOTS * 4;
    const total = this.stateOffset + cpus * STATE_STRIDE;
    this.memory = new WebAssembly.Memory({ initial: total / PAGE, maximum: total / PAGE });
    this.buffer = this.memory.buffer;
    this.ram = new Uint8Array(this.buffer, 0, ramSize);
    this.slotTags = new Uint32Array(this.buffer, this.slotTagsOffset, MAX_SLOTS);
  }

  /** The code-page map as BlockCache keeps it. */
  codePages(): Uint8Array { return new Uint8Array(this.buffer, this.codePagesOffset, this.pageCount); }

  /** A fresh vCPU state area's absolute offset, or undefined when all are taken. */
  allocateState(): number | undefined {
    if (this.statesUsed === this.stateAreas) return undefined;
    const state = this.stateOffset + STATE_STRIDE * this.statesUsed++;
    // Empty jump cache entries hold a non-canonical RIP, which no block has.
    const words = new Uint32Array(this.buffer, state + STATE_JUMP, (JUMP_ENTRIES * JUMP_ENTRY_SIZE) / 4);
    for (let w = (JUMP_RIP >> 2) + 1; w < words.length; w += JUMP_ENTRY_SIZE / 4) words[w] = 0x80000000;
    return state;
  }

  /** Whether `bytes` (a RAM region's) is this memory's RAM. */
  holds(bytes: Uint8Array): boolean { return bytes.buffer === this.buffer && bytes.byteOffset === 0; }

  private static readonly byBuffer = new WeakMap<ArrayBufferLike, WasmSpace>();

  /** The space whose memory holds `memory`'s RAM at physical 0, if any. */
  static of(memory: GuestMemory): WasmSpace | undefined {
    const first = memory.regions[0];
    if (first === undefined || first.guestAddress !== 0) return undefined;
    const space = WasmSpace.byBuffer.get(first.bytes.buffer);
    return space !== undefined && space.holds(first.bytes) ? space : undefined;
  }

  /**
   * RAM regions for the software CPU, the one at physical 0 inside a new
   * WasmSpace with state areas for `cpus` vCPUs when `wasm` (and it fits),
   * the others plain typed arrays.
   */
  static allocateRam(ranges: readonly { guestAddress: number; size: number }[], wasm: boolean, cpus = 1): MemoryRegion[] {
    const low = ranges.find((r) => r.guestAddress === 0);
    let space: WasmSpace | undefined;
    if (wasm && low !== undefined && low.size <= MAX_LOW_RAM) {
      const ramEnd = Math.max(...ranges.map((r) => r.guestAddress + r.size));
      space = new WasmSpace(low.size, ramEnd, cpus);
      WasmSpace.byBuffer.set(space.buffer, space);
    }
    return ranges.map((r) => ({
      guestAddress: r.guestAddress,
      bytes: r === low && space !== undefined ? space.ram : new Uint8Array(r.size),
    }));
  }
}
