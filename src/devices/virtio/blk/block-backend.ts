/**
 * Where virtio-blk's sectors live. The device speaks only this interface;
 * FileBlockBackend is a raw image file with asynchronous I/O so a slow disk
 * never stalls the event loop (and with it the guest's other devices).
 */
import * as fs from 'node:fs';
import { FileHandle, open } from 'node:fs/promises';
import { ImageLock, lockImage } from './image-lock';

export interface BlockBackend {
  /** Size in bytes. */
  readonly size: number;
  readonly readOnly: boolean;
  /** Fills `buffers` from byte `position`; bytes past the end of the image read as zero. */
  read(buffers: Uint8Array[], position: number): Promise<void>;
  write(buffers: Uint8Array[], position: number): Promise<void>;
  /** Makes every completed write durable (fdatasync). */
  flush(): Promise<void>;
  writeZeroes(position: number, length: number): Promise<void>;
  /** The guest no longer needs these bytes; their contents become unspecified. */
  discard(position: number, length: number): Promise<void>;
  close(): Promise<void>;
}

const ZERO_CHUNK = 1024 * 1024;

function totalLength(buffers: Uint8Array[]): number {
  return buffers.reduce((n, b) => n + b.length, 0);
}

/** Drops the first `n` bytes of a list of buffers. */
function advance(buffers: Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let skip = n;
  for (const b of buffers) {
    if (skip >= b.length) { skip -= b.length; continue; }
    out.push(skip ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}

export class FileBlockBackend implements BlockBackend {
  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    readonly readOnly: boolean,
    private readonly lock: ImageLock,
  ) {}

  /**
   * Opens a raw image and locks it QEMU's way (image-lock.ts) on its own fd:
   * fails with ImageLockError while another process (tsvisor, QEMU, qemu-img)
   * writes it or, for a read-write open, has it open without sharing write
   * access (as every tsvisor and QEMU guest disk does). The lock goes
   * with close() or the death of the process.
   */
  static async open(imagePath: string, opts: { readOnly?: boolean } = {}): Promise<FileBlockBackend> {
    const readOnly = opts.readOnly ?? false;
    const handle = await open(imagePath, readOnly ? fs.constants.O_RDONLY : fs.constants.O_RDWR);
    try {
      const lock = lockImage(handle.fd, imagePath, readOnly);
      const st = await handle.stat();
      return new FileBlockBackend(handle, st.size, readOnly, lock);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  async read(buffers: Uint8Array[], position: number): Promise<void> {
    let rest = buffers;
    let pos = position;
    while (rest.length > 0) {
      const { bytesRead } = await this.handle.readv(rest, pos);
      if (bytesRead === 0) {
        for (const b of rest) b.fill(0); // past the end of a file that shrank
        return;
      }
      pos += bytesRead;
      rest = advance(rest, bytesRead);
    }
  }

  async write(buffers: Uint8Array[], position: number): Promise<void> {
    if (this.readOnly) throw new Error('read-only image');
    let rest = buffers;
    let pos = position;
    let left = totalLength(buffers);
    while (left > 0) {
      const { bytesWritten } = await this.handle.writev(rest, pos);
      if (bytesWritten <= 0) throw new Error('short write');
      pos += bytesWritten;
      left -= bytesWritten;
      rest = advance(rest, bytesWritten);
    }
  }

  async flush(): Promise<void> {
    await this.handle.datasync();
  }

  async writeZeroes(position: number, length: number): Promise<void> {
    const zeroes = new Uint8Array(Math.min(ZERO_CHUNK, length));
    for (let done = 0; done < length; done += zeroes.length) {
      const n = Math.min(zeroes.length, length - done);
      await this.write([zeroes.subarray(0, n)], position + done);
    }
  }

  /** Node cannot punch holes (no fallocate), so discarded bytes are written as zeroes. */
  async discard(position: number, length: number): Promise<void> {
    await this.writeZeroes(position, length);
  }

  async close(): Promise<void> {
    // Closing the fd drops its OFD locks; releasing first only makes the order explicit.
    this.lock.release();
    await this.handle.close();
  }
}
