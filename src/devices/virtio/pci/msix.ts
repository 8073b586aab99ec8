/**
 * An MSI-X table and pending-bit array (PCI 3.0, 6.8.2) living in a BAR.
 *
 * Each entry is {address low, address high, data, vector control}. A vector
 * that fires while masked (its own mask bit or the function mask) sets its
 * pending bit instead and is delivered when unmasked; while MSI-X is disabled
 * the function uses INTx and vectors do not fire at all. Messages go out through the machine's
 * InterruptRouter.signalMsi.
 */
import { InterruptRouter } from '../../irq';
import { leValue, putLeValue } from '../device';

export const MSIX_ENTRY_SIZE = 16;
export const MSIX_CONTROL_ENABLE = 0x8000;
export const MSIX_CONTROL_FUNCTION_MASK = 0x4000;
const VECTOR_MASKED = 1;

export interface MsixState {
  entries: number[];
  pending: number[];
  enabled: boolean;
  functionMasked: boolean;
}

export class MsixTable {
  private readonly entries: Uint32Array;
  private readonly pending: Uint8Array;
  enabled = false;
  functionMasked = false;

  constructor(readonly size: number, private readonly router: Pick<InterruptRouter, 'signalMsi'>) {
    this.entries = new Uint32Array(size * 4);
    this.pending = new Uint8Array(size);
    this.reset();
  }

  /** Power-on state: every vector masked, nothing pending. */
  reset(): void {
    this.entries.fill(0);
    for (let v = 0; v < this.size; v++) this.entries[v * 4 + 3] = VECTOR_MASKED;
    this.pending.fill(0);
    this.enabled = false;
    this.functionMasked = false;
  }

  /** Message Control's enable and function-mask bits changed. */
  setControl(control: number): void {
    this.enabled = (control & MSIX_CONTROL_ENABLE) !== 0;
    this.functionMasked = (control & MSIX_CONTROL_FUNCTION_MASK) !== 0;
    this.deliverPending();
  }

  /** Fires a vector: delivered now, or left pending while masked. */
  signal(vector: number): void {
    if (!this.enabled || vector >= this.size) return;
    if (this.functionMasked || this.entries[vector * 4 + 3] & VECTOR_MASKED) {
      this.pending[vector] = 1;
      return;
    }
    this.send(vector);
  }

  readTable(offset: number, data: Uint8Array): void {
    putLeValue(data, this.tableDword(offset) + (data.length === 8 ? this.tableDword(offset + 4) * 0x100000000 : 0));
  }

  writeTable(offset: number, data: Uint8Array): void {
    if (data.length === 8) {
      this.writeTableDword(offset, leValue(data.subarray(0, 4)));
      this.writeTableDword(offset + 4, leValue(data.subarray(4, 8)));
    } else if (data.length === 4) {
      this.writeTableDword(offset, leValue(data));
    }
  }

  readPba(offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) {
      let byte = 0;
      for (let bit = 0; bit < 8; bit++) {
        const v = (offset + i) * 8 + bit;
        if (v < this.size && this.pending[v]) byte |= 1 << bit;
      }
      data[i] = byte;
    }
  }

  isPending(vector: number): boolean {
    return this.pending[vector] === 1;
  }

  save(): MsixState {
    return { entries: [...this.entries], pending: [...this.pending], enabled: this.enabled, functionMasked: this.functionMasked };
  }

  restore(s: MsixState): void {
    this.entries.set(s.entries.slice(0, this.entries.length));
    this.pending.set(s.pending.slice(0, this.pending.length));
    this.enabled = s.enabled;
    this.functionMasked = s.functionMasked;
  }

  private tableDword(offset: number): number {
    const index = offset >> 2;
    return offset % 4 === 0 && index < this.entries.length ? this.entries[index] : 0;
  }

  private writeTableDword(offset: number, value: number): void {
    const index = offset >> 2;
    if (offset % 4 !== 0 || index >= this.entries.length) return;
    // Only the mask bit of vector control is writable.
    this.entries[index] = index % 4 === 3 ? value & VECTOR_MASKED : value >>> 0;
    if (index % 4 === 3) this.deliverPending();
  }

  private deliverPending(): void {
    if (!this.enabled || this.functionMasked) return;
    for (let v = 0; v < this.size; v++) {
      if (this.pending[v] && !(this.entries[v * 4 + 3] & VECTOR_MASKED)) {
        this.pending[v] = 0;
        this.send(v);
      }
    }
  }

  private send(vector: number): void {
    const e = vector * 4;
    this.router.signalMsi(this.entries[e + 1] * 0x100000000 + this.entries[e], this.entries[e + 2]);
  }
}
