/** The hidden part of a segment register (the descriptor cache), as the CPU uses it. */
export class SegmentCache {
  selector = 0;
  /** Base as a number: below 2^32 outside long mode; FS/GS bases in long mode may be negative (sign-extended canonical). */
  base = 0;
  /** Byte-granular limit (already scaled by G). */
  limit = 0xffff;
  type = 3;
  dpl = 0;
  present = true;
  db = false;
  s = true;
  l = false;
  g = false;
  avl = false;
  unusable = false;

  get isCode(): boolean { return this.s && (this.type & 8) !== 0; }
  get readable(): boolean { return !this.s ? false : (this.type & 8) === 0 || (this.type & 2) !== 0; }
  get writable(): boolean { return this.s && (this.type & 8) === 0 && (this.type & 2) !== 0; }
  get expandDown(): boolean { return this.s && (this.type & 8) === 0 && (this.type & 4) !== 0; }
  get conforming(): boolean { return this.isCode && (this.type & 4) !== 0; }

  copyFrom(o: SegmentCache): void {
    this.selector = o.selector; this.base = o.base; this.limit = o.limit; this.type = o.type; this.dpl = o.dpl;
    this.present = o.present; this.db = o.db; this.s = o.s; this.l = o.l; this.g = o.g; this.avl = o.avl; this.unusable = o.unusable;
  }

  /** Real-mode / VM86 load: base = selector * 16, other attributes kept (SDM 20.1.1). */
  loadReal(selector: number): void {
    this.selector = selector & 0xffff;
    this.base = this.selector * 16;
    this.unusable = false;
    this.present = true;
  }

  /** Loads from an 8-byte descriptor given as two 32-bit words. */
  loadDescriptor(selector: number, lo: number, hi: number): void {
    this.selector = selector;
    this.base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
    let limit = (lo & 0xffff) | (hi & 0xf0000);
    this.g = (hi & 0x800000) !== 0;
    if (this.g) limit = limit * 4096 + 0xfff;
    this.limit = limit >>> 0;
    this.type = (hi >> 8) & 0xf;
    this.s = (hi & 0x1000) !== 0;
    this.dpl = (hi >> 13) & 3;
    this.present = (hi & 0x8000) !== 0;
    this.avl = (hi & 0x100000) !== 0;
    this.l = (hi & 0x200000) !== 0;
    this.db = (hi & 0x400000) !== 0;
    this.unusable = false;
  }

  /** A null selector loaded into a data segment register. */
  loadNull(selector: number): void {
    this.selector = selector;
    this.base = 0;
    this.limit = 0;
    this.unusable = true;
    this.present = false;
  }
}
