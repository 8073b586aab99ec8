/**
 * A bounded FIFO of bytes on a ring buffer: the UART's receive FIFO and the
 * host-side input buffer behind it. Push and shift are O(1) and allocate
 * nothing, because console input may arrive a byte at a time.
 */
export class ByteQueue {
  private buf: Uint8Array;
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.buf = new Uint8Array(Math.max(1, capacity));
  }

  get length(): number {
    return this.count;
  }

  get free(): number {
    return this.capacity - this.count;
  }

  isEmpty(): boolean {
    return this.count === 0;
  }

  isFull(): boolean {
    return this.count >= this.capacity;
  }

  /** Appends a byte; returns false (and drops it) when full. */
  push(byte: number): boolean {
    if (this.count >= this.capacity) return false;
    this.buf[(this.head + this.count) % this.buf.length] = byte;
    this.count++;
    return true;
  }

  /** Removes and returns the oldest byte, or undefined when empty. */
  shift(): number | undefined {
    if (this.count === 0) return undefined;
    const b = this.buf[this.head];
    this.head = (this.head + 1) % this.buf.length;
    this.count--;
    return b;
  }

  peek(): number | undefined {
    return this.count === 0 ? undefined : this.buf[this.head];
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
  }

  toArray(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.buf[(this.head + i) % this.buf.length]);
    return out;
  }
}
