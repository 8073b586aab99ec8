/**
 * The Linux thread id (gettid) of the calling thread, from the addon: Node
 * offers only the pid and its own worker numbering. QMP reports it as a
 * vCPU's thread-id, which libvirt hands to sched_setaffinity to pin vCPUs.
 */
import { kvmBinding } from './binding';

interface ThreadBinding {
  gettid(): number;
}

function isThreadBinding(b: object): b is ThreadBinding {
  return typeof (b as Partial<Record<keyof ThreadBinding, unknown>>).gettid === 'function';
}

/**
 * gettid(), or the pid where the addon is not built (the software CPU runs
 * without it): pinning the whole process is the closest honest answer then.
 */
export function linuxThreadId(): number {
  let b: object;
  try {
    b = kvmBinding();
  } catch {
    return process.pid;
  }
  return isThreadBinding(b) ? b.gettid() : process.pid;
}
