/**
 * The soft MMU: page-table walks (no paging, 32-bit, PAE, 4-level) with
 * A/D-bit updates, permission checks (U/S, R/W with CR0.WP, NX) and a
 * direct-mapped TLB. A TLB entry maps a 4 KiB linear page either to host
 * bytes (RAM: a DataView and offset, the fast path) or to a guest physical
 * page that is not RAM (MMIO, always dispatched to the IoBus, never cached as
 * RAM). Separate entry sets for user and supervisor accesses keep CPL changes
 * (every system call) from flushing anything.
 */
import { GuestMemory } from '../memory/guest-memory';
import { NO_HOST, STATE_HOST, STATE_TAG_READ, STATE_TAG_WRITE, WasmSpace } from './wasm/space';
import { CpuException } from './cpu-exception';
import {
  CR0_PG, CR0_WP, CR4_PAE, CR4_PSE, CR4_PGE, EFER_LMA, EFER_NXE, PF_FETCH, PF_PRESENT, PF_RSVD, PF_USER, PF_WRITE,
  TWO_32, VEC_PF,
} from './cpu-constants';

export const ACCESS_READ = 0;
export const ACCESS_WRITE = 1;
export const ACCESS_EXEC = 2;

const TLB_BITS = 10;
export const TLB_SIZE = 1 << TLB_BITS;
export const TLB_MASK = TLB_SIZE - 1;

/** Paging-related control state the walker reads (owned by the CPU). */
export interface PagingControl {
  cr0: number;
  cr3: number;
  cr4: number;
  efer: number;
}

const PTE_P = 1, PTE_RW = 2, PTE_US = 4, PTE_A = 0x20, PTE_D = 0x40, PTE_PS = 0x80, PTE_G = 0x100;
/** Physical address bits implemented: 40 (CPUID 0x80000008 reports it). */
const PHYS_HI_RESERVED = 0x000fff00;

export class Mmu {
  /** Tags per access kind: the linear page number, or NaN when empty. Index: set * TLB_SIZE + (vpn & TLB_MASK). */
  readonly tagRead: Float64Array;
  readonly tagWrite: Float64Array;
  readonly tagExec = new Float64Array(2 * TLB_SIZE).fill(NaN);
  readonly global = new Uint8Array(2 * TLB_SIZE);
  /** Host view of RAM pages (undefined: MMIO). */
  readonly views: (DataView | undefined)[] = new Array<DataView | undefined>(2 * TLB_SIZE).fill(undefined);
  readonly bytes: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(2 * TLB_SIZE).fill(undefined);
  /** Offset of the page inside the view. */
  readonly offsets = new Float64Array(2 * TLB_SIZE);
  /** Guest physical address of the page. */
  readonly physPages = new Float64Array(2 * TLB_SIZE);
  /** Bumped on every flush, so cached translations elsewhere (the fetch window) know to drop. */
  generation = 0;
  /**
   * Bumped by the flushes that can drop a global translation (all but a CR3
   * write's): what was learned through a global page (kernel text) stays
   * true across context switches while this is unchanged.
   */
  globalGeneration = 0;

  /**
   * With a WasmSpace: each entry's page as an offset in the space's memory, or NO_HOST when
   * its page is not there (MMIO, RAM above the low region), for translated WebAssembly code.
   */
  readonly hostPages: Uint32Array | undefined;

  private readonly regionViews: { start: number; end: number; view: DataView; bytes: Uint8Array; inSpace: boolean }[];

  /** `wasm`: the space holding this vCPU's TLB tags and host offsets (its state area at `state`). */
  constructor(readonly memory: GuestMemory, private readonly ctl: PagingControl, wasm?: { space: WasmSpace; state: number }) {
    this.regionViews = memory.regions.map((r) => ({
      start: r.guestAddress,
      end: r.guestAddress + r.bytes.length,
      view: new DataView(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength),
      bytes: r.bytes,
      inSpace: wasm !== undefined && wasm.space.holds(r.bytes),
    }));
    const buffer = wasm?.space.buffer;
    this.tagRead = (buffer ? new Float64Array(buffer, (wasm as { state: number }).state + STATE_TAG_READ, 2 * TLB_SIZE) : new Float64Array(2 * TLB_SIZE)).fill(NaN);
    this.tagWrite = (buffer ? new Float64Array(buffer, (wasm as { state: number }).state + STATE_TAG_WRITE, 2 * TLB_SIZE) : new Float64Array(2 * TLB_SIZE)).fill(NaN);
    this.hostPages = buffer ? new Uint32Array(buffer, (wasm as { state: number }).state + STATE_HOST, 2 * TLB_SIZE).fill(NO_HOST) : undefined;
  }

  flushAll(): void {
    this.tagRead.fill(NaN);
    this.tagWrite.fill(NaN);
    this.tagExec.fill(NaN);
    this.generation++;
    this.globalGeneration++;
  }

  /** CR3 write: everything except global pages (when CR4.PGE). */
  flushNonGlobal(): void {
    if ((this.ctl.cr4 & CR4_PGE) === 0) { this.flushAll(); return; }
    for (let i = 0; i < 2 * TLB_SIZE; i++) {
      if (!this.global[i]) { this.tagRead[i] = NaN; this.tagWrite[i] = NaN; this.tagExec[i] = NaN; }
    }
    this.generation++;
  }

  /** INVLPG: the page in both privilege sets. */
  flushPage(linear: number): void {
    const vpn = Math.floor(linear / 4096);
    for (const set of [0, TLB_SIZE]) {
      const i = set + (vpn & TLB_MASK);
      if (this.tagRead[i] === vpn || this.tagWrite[i] === vpn || this.tagExec[i] === vpn) {
        this.tagRead[i] = NaN; this.tagWrite[i] = NaN; this.tagExec[i] = NaN;
      }
    }
    this.generation++;
    this.globalGeneration++;
  }

  /** Host view of a guest physical RAM page, or undefined for MMIO. */
  physView(phys: number): { view: DataView; bytes: Uint8Array; offset: number; inSpace: boolean } | undefined {
    for (const r of this.regionViews) {
      if (phys >= r.start && phys + 4096 <= r.end) return { view: r.view, bytes: r.bytes, offset: phys - r.start, inSpace: r.inSpace };
    }
    return undefined;
  }

  /**
   * Translates `linear` for `access` by a user-mode (CPL 3) or supervisor
   * access, fills the TLB entry and returns its index. Throws #PF.
   */
  fill(linear: number, access: number, user: boolean): number {
    const vpn = Math.floor(linear / 4096);
    const idx = (user ? TLB_SIZE : 0) + (vpn & TLB_MASK);
    const { cr0, efer } = this.ctl;
    let phys: number;
    let writable = true, userOk = true, exec = true, global = false;
    if ((cr0 & CR0_PG) === 0) {
      phys = vpn * 4096;
      if (phys >= TWO_32 && (efer & EFER_LMA) === 0) phys %= TWO_32;
      this.walkDirty = true;
    } else {
      const w = this.walk(linear, access, user);
      phys = w;
      writable = this.walkWritable; userOk = this.walkUser; exec = this.walkExec; global = this.walkGlobal;
    }
    const wpOff = !user && (cr0 & CR0_WP) === 0;
    const r = this.physView(phys);
    this.views[idx] = r?.view;
    this.bytes[idx] = r?.bytes;
    this.offsets[idx] = r ? r.offset : 0;
    if (this.hostPages !== undefined) this.hostPages[idx] = r !== undefined && r.inSpace ? r.offset : NO_HOST;
    this.physPages[idx] = phys;
    this.global[idx] = global ? 1 : 0;
    if (this.tagRead[idx] !== vpn) { this.tagWrite[idx] = NaN; this.tagExec[idx] = NaN; }
    this.tagRead[idx] = vpn;
    // The write tag is only set once the dirty bit is known set, so the first write walks again and sets D.
    if ((writable || wpOff) && (access === ACCESS_WRITE || this.walkDirty)) this.tagWrite[idx] = vpn;
    if (exec && (userOk || !user)) this.tagExec[idx] = vpn;
    return idx;
  }

  private walkWritable = true;
  private walkUser = true;
  private walkExec = true;
  private walkGlobal = false;
  private walkDirty = true;

  /** Walks the page tables; returns the physical page address. */
  private walk(linear: number, access: number, user: boolean): number {
    const { cr0, cr3, cr4, efer } = this.ctl;
    const nxe = (efer & EFER_NXE) !== 0;
    const write = access === ACCESS_WRITE;
    let rw = true, us = true, nx = false;
    const fail = (present: boolean, rsvd: boolean): CpuException => {
      let code = (present ? PF_PRESENT : 0) | (write ? PF_WRITE : 0) | (user ? PF_USER : 0) | (rsvd ? PF_RSVD | PF_PRESENT : 0);
      if (access === ACCESS_EXEC && (nxe || (cr4 & CR4_PAE) !== 0)) code |= PF_FETCH;
      return new CpuException(VEC_PF, code, linear);
    };
    // Entries visited, to set A (and D) bits only once the access is known to be allowed.
    const touched: number[] = [];
    let pageBase: number;
    let pageMask: number;
    let leafAddr: number;
    let leafLo: number;
    if ((cr4 & CR4_PAE) === 0) {
      const lin = linear >>> 0;
      const pdeAddr = (cr3 & 0xfffff000) + (lin >>> 22) * 4;
      const pde = this.readPhys32(pdeAddr);
      if ((pde & PTE_P) === 0) throw fail(false, false);
      rw = (pde & PTE_RW) !== 0; us = (pde & PTE_US) !== 0;
      touched.push(pdeAddr);
      if ((pde & PTE_PS) !== 0 && (cr4 & CR4_PSE) !== 0) {
        pageBase = (pde & 0xffc00000) >>> 0;
        pageMask = 0x3fffff;
        leafAddr = pdeAddr; leafLo = pde;
      } else {
        const pteAddr = ((pde & 0xfffff000) >>> 0) + ((lin >>> 12) & 0x3ff) * 4;
        const pte = this.readPhys32(pteAddr);
        if ((pte & PTE_P) === 0) throw fail(false, false);
        rw &&= (pte & PTE_RW) !== 0; us &&= (pte & PTE_US) !== 0;
        touched.push(pteAddr);
        pageBase = (pte & 0xfffff000) >>> 0;
        pageMask = 0xfff;
        leafAddr = pteAddr; leafLo = pte;
      }
    } else {
      const long = (efer & EFER_LMA) !== 0;
      const va = linear < 0 ? linear + 2 ** 48 : linear;
      const bitsOf = (shift: number): number => Math.floor(va / 2 ** shift) % 512;
      let levels: number[];
      let tableAddr: number;
      if (long) {
        levels = [39, 30, 21, 12];
        tableAddr = this.ctl.cr3 - (this.ctl.cr3 % 4096);
      } else {
        // PAE: the PDPTE comes first and has no R/W, U/S or NX bits.
        const pdpteAddr = (cr3 & 0xffffffe0) + ((linear >>> 30) & 3) * 8;
        const lo = this.readPhys32(pdpteAddr);
        const hi = this.readPhys32(pdpteAddr + 4);
        if ((lo & PTE_P) === 0) throw fail(false, false);
        if ((hi & PHYS_HI_RESERVED) !== 0 || (lo & 0x1e6) !== 0) throw fail(true, true);
        tableAddr = (hi & 0xff) * TWO_32 + ((lo & 0xfffff000) >>> 0);
        levels = [21, 12];
      }
      pageBase = 0; pageMask = 0xfff; leafAddr = 0; leafLo = 0;
      for (let level = 0; level < levels.length; level++) {
        const shift = levels[level];
        const entryAddr = tableAddr + bitsOf(shift) * 8;
        const lo = this.readPhys32(entryAddr);
        const hi = this.readPhys32(entryAddr + 4);
        if ((lo & PTE_P) === 0) throw fail(false, false);
        if ((hi & PHYS_HI_RESERVED) !== 0 || (!nxe && hi >= 0x80000000)) throw fail(true, true);
        const isLeaf = shift === 12 || ((lo & PTE_PS) !== 0 && (shift === 21 || (shift === 30 && long)));
        if (long && shift === 39 && (lo & PTE_PS) !== 0) throw fail(true, true);
        rw &&= (lo & PTE_RW) !== 0; us &&= (lo & PTE_US) !== 0;
        if (nxe && hi >= 0x80000000) nx = true;
        touched.push(entryAddr);
        const addr = (hi & 0xfffff) * TWO_32 + ((lo & 0xfffff000) >>> 0);
        if (isLeaf) {
          const size = 2 ** shift;
          // Large pages: bits 12..shift-1 of the address (except the PAT bit 12) must be zero.
          if (shift > 12 && (addr % size) !== 4096 * (((lo >> 12) & 1)) && (addr % size) !== 0) throw fail(true, true);
          pageBase = addr - (addr % size);
          pageMask = size - 1;
          leafAddr = entryAddr; leafLo = lo;
          break;
        }
        tableAddr = addr;
      }
    }
    // Permission checks (SDM 4.6).
    const wp = (cr0 & CR0_WP) !== 0;
    if (user && !us) throw fail(true, false);
    if (write && !rw && (user || wp)) throw fail(true, false);
    if (access === ACCESS_EXEC && nx) throw fail(true, false);
    for (const a of touched) {
      const v = this.readPhys32(a);
      if ((v & PTE_A) === 0) this.writePhys32(a, v | PTE_A);
    }
    const dirty = (leafLo & PTE_D) !== 0;
    if (write && !dirty) this.writePhys32(leafAddr, this.readPhys32(leafAddr) | PTE_D);
    this.walkWritable = rw;
    this.walkUser = us;
    this.walkExec = !nx;
    this.walkGlobal = (leafLo & PTE_G) !== 0 && (cr4 & CR4_PGE) !== 0;
    this.walkDirty = dirty || write;
    const span = pageMask + 1;
    const pageOffset = ((linear % span) + span) % span;
    return pageBase + (pageOffset - (pageOffset % 4096));
  }

  readPhys32(phys: number): number {
    const r = this.physView(phys - (phys % 4096));
    if (!r) return 0;
    return r.view.getUint32(r.offset + (phys % 4096), true);
  }

  writePhys32(phys: number, value: number): void {
    const r = this.physView(phys - (phys % 4096));
    if (r) r.view.setUint32(r.offset + (phys % 4096), value >>> 0, true);
  }
}
