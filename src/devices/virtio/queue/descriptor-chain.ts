/**
 * A descriptor chain taken off the available ring: the driver-readable
 * segments followed by the driver-writable ones, each a bounds-checked view
 * straight into guest memory (no copies). Devices read requests and write
 * replies through the cursor helpers below, which never step outside those
 * views however the guest split its buffers.
 *
 * Writes through the writable views bypass the software CPU, so the chain
 * keeps their guest addresses: the queue announces them as DMA
 * (GuestMemory.noteDmaWrite) when the chain goes back to the driver.
 */
export class DescriptorChain {
  readonly readableLength: number;
  readonly writableLength: number;

  constructor(
    /** Head descriptor index: what goes back on the used ring. */
    readonly head: number,
    readonly readable: readonly Uint8Array[],
    readonly writable: readonly Uint8Array[],
    /** Guest physical address of each writable segment (same order and length as `writable`). */
    readonly writableAddresses: readonly number[] = [],
  ) {
    this.readableLength = readable.reduce((n, s) => n + s.length, 0);
    this.writableLength = writable.reduce((n, s) => n + s.length, 0);
  }

  /** Copies readable bytes starting at `offset` into `dest`; returns how many were copied. */
  readInto(dest: Uint8Array, offset = 0): number {
    return copyOut(this.readable, offset, dest);
  }

  /** Copies `src` into the writable bytes starting at `offset`; returns how many fit. */
  writeFrom(src: Uint8Array, offset = 0): number {
    return copyIn(this.writable, offset, src);
  }

  /** Views covering readable bytes [offset, offset+length), clipped to what exists. */
  readableSlices(offset: number, length: number): Uint8Array[] {
    return slices(this.readable, offset, length);
  }

  /** Views covering writable bytes [offset, offset+length), clipped to what exists. */
  writableSlices(offset: number, length: number): Uint8Array[] {
    return slices(this.writable, offset, length);
  }
}

function slices(segments: readonly Uint8Array[], offset: number, length: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let skip = offset;
  let left = length;
  for (const seg of segments) {
    if (left <= 0) break;
    if (skip >= seg.length) {
      skip -= seg.length;
      continue;
    }
    const take = Math.min(seg.length - skip, left);
    out.push(seg.subarray(skip, skip + take));
    left -= take;
    skip = 0;
  }
  return out;
}

function copyOut(segments: readonly Uint8Array[], offset: number, dest: Uint8Array): number {
  let done = 0;
  for (const s of slices(segments, offset, dest.length)) {
    dest.set(s, done);
    done += s.length;
  }
  return done;
}

function copyIn(segments: readonly Uint8Array[], offset: number, src: Uint8Array): number {
  let done = 0;
  for (const s of slices(segments, offset, src.length)) {
    s.set(src.subarray(done, done + s.length));
    done += s.length;
  }
  return done;
}
