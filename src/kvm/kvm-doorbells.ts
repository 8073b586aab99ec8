/**
 * Doorbells (src/devices/virtio/doorbells.ts) as KVM ioeventfds: each binding
 * is a non-blocking eventfd registered with KVM_IOEVENTFD and watched by a
 * libuv poll handle (native/fd-watch.cc) on the machine thread's loop. A guest
 * notify write then completes inside the kernel without an MMIO exit; the
 * loop sees the eventfd readable, and since the LoopWaker polls that same
 * loop, vCPU 0 is kicked out of KVM_RUN so the queue is served promptly.
 */
import { Doorbells } from '../devices/virtio/doorbells';
import { FdWatch, FdWatchBinding, fdWatchBinding, watchFd } from './fd-watch';
import { KvmVm, eventfd } from './vm';

export class KvmDoorbells implements Doorbells {
  private readonly unbinders = new Set<() => void>();
  /** Doorbells rung through an eventfd (tests use it to tell the paths apart). */
  rings = 0;

  private constructor(private readonly vm: KvmVm, private readonly w: FdWatchBinding) {}

  /** Undefined when the addon is too old to watch fds (the caller keeps MMIO exits). */
  static create(vm: KvmVm): KvmDoorbells | undefined {
    const b = fdWatchBinding();
    return b ? new KvmDoorbells(vm, b) : undefined;
  }

  bind(address: number, length: number, datamatch: number | undefined, ring: () => void): () => void {
    const fd = eventfd.create({ nonBlocking: true });
    const options = datamatch === undefined ? {} : { datamatch };
    let watch: FdWatch | undefined;
    try {
      this.vm.attachIoeventfd(fd, address, length, options);
      watch = watchFd(this.w, fd, () => {
        // One read resets the counter: several writes since the last turn are one ring, as a
        // device re-scans its whole available ring on each notify anyway.
        if (eventfd.read(fd) === null) return;
        this.rings++;
        ring();
      });
      watch.start();
    } catch (e) {
      watch?.close();
      eventfd.close(fd);
      throw e;
    }
    const handle = watch;
    let bound = true;
    const unbind = (): void => {
      if (!bound) return;
      bound = false;
      this.unbinders.delete(unbind);
      // Stop polling before the number can be reused, and detach before closing so KVM forgets it.
      handle.close();
      try { this.vm.detachIoeventfd(fd, address, length, options); } finally { eventfd.close(fd); }
    };
    this.unbinders.add(unbind);
    return unbind;
  }

  /** Before the VM fd closes. */
  destroy(): void {
    for (const unbind of [...this.unbinders]) unbind();
  }
}
