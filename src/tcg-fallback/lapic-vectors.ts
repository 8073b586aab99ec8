/**
 * A 256-bit vector register (the LAPIC's IRR, ISR and TMR): eight 32-bit
 * words as the guest reads them at offsets +0x00..+0x70, with the highest
 * set vector cached because the CPU asks for it between every block.
 */
export class VectorSet {
  readonly words = new Uint32Array(8);
  private cachedHighest = -1;
  private cacheValid = true;

  has(vector: number): boolean {
    return (this.words[vector >>> 5] & (1 << (vector & 31))) !== 0;
  }

  set(vector: number): void {
    this.words[vector >>> 5] |= 1 << (vector & 31);
    if (this.cacheValid && vector > this.cachedHighest) this.cachedHighest = vector;
  }

  clear(vector: number): void {
    this.words[vector >>> 5] &= ~(1 << (vector & 31));
    if (vector === this.cachedHighest) this.cacheValid = false;
  }

  clearAll(): void {
    this.words.fill(0);
    this.cachedHighest = -1;
    this.cacheValid = true;
  }

  /** Highest set vector, or -1. */
  highest(): number {
    if (this.cacheValid) return this.cachedHighest;
    let h = -1;
    for (let w = 7; w >= 0; w--) {
      const word = this.words[w];
      if (word !== 0) {
        h = w * 32 + 31 - Math.clz32(word);
        break;
      }
    }
    this.cachedHighest = h;
    this.cacheValid = true;
    return h;
  }

  toArray(): number[] {
    return Array.from(this.words);
  }

  load(words: unknown): void {
    this.words.fill(0);
    if (Array.isArray(words)) {
      for (let i = 0; i < 8 && i < words.length; i++) {
        const w: unknown = words[i];
        this.words[i] = typeof w === 'number' && Number.isFinite(w) ? w >>> 0 : 0;
      }
    }
    this.cacheValid = false;
  }
}
