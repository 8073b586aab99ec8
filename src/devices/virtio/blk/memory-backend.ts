/** A BlockBackend in memory: for tests, fuzzing and scratch disks. */
import { BlockBackend } from './block-backend';

export class MemoryBlockBackend implements BlockBackend {
  readonly bytes: Uint8Array;
  flushes = 0;

  constructor(size: number, readonly readOnly = false) {
    this.bytes = new Uint8Array(size);
  }

  get size(): number {
    return this.bytes.length;
  }

  async read(buffers: Uint8Array[], position: number): Promise<void> {
    let at = position;
    for (const b of buffers) {
      b.fill(0);
      b.set(this.bytes.subarray(at, Math.min(this.bytes.length, at + b.length)));
      at += b.length;
    }
  }

  async write(buffers: Uint8Array[], position: number): Promise<void> {
    if (this.readOnly) throw new Error('read-only');
    let at = position;
    for (const b of buffers) {
      if (at + b.length > this.bytes.length) throw new Error('write past the end');
      this.bytes.set(b, at);
      at += b.length;
    }
  }

  async flush(): Promise<void> {
    this.flushes++;
  }

  async writeZeroes(position: number, length: number): Promise<void> {
    this.bytes.fill(0, position, position + length);
  }

  async discard(position: number, length: number): Promise<void> {
    this.bytes.fill(0, position, position + length);
  }

  async close(): Promise<void> {}
}
