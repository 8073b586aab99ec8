/**
 * x87 state. Registers hold JavaScript doubles, so results are rounded to
 * 53-bit precision, not the x87's 64-bit extended precision; FSAVE/FXSAVE
 * store an 80-bit image converted from the double.
 */
export class FpuState {
  readonly st = new Float64Array(8);
  /** Physical register tags: 1 = valid/zero/special, 0 = empty. */
  readonly valid = new Uint8Array(8);
  top = 0;
  control = 0x37f;
  status = 0;
  lastOpcode = 0;

  reset(): void {
    this.st.fill(0);
    this.valid.fill(0);
    this.top = 0;
    this.control = 0x37f;
    this.status = 0;
  }

  /** The abridged tag byte of FXSAVE: bit per physical register, 1 = not empty. */
  abridgedTag(): number {
    let t = 0;
    for (let k = 0; k < 8; k++) if (this.valid[k]) t |= 1 << k;
    return t;
  }

  /** Full 16-bit tag word: 00 valid, 01 zero, 10 special, 11 empty. */
  tagWord(): number {
    let t = 0;
    for (let k = 0; k < 8; k++) {
      let tag = 3;
      if (this.valid[k]) {
        const v = this.st[k];
        tag = v === 0 ? 1 : Number.isFinite(v) ? 0 : 2;
      }
      t |= tag << (2 * k);
    }
    return t;
  }

  statusWord(): number {
    return (this.status & ~0x3800) | ((this.top & 7) << 11);
  }
}
