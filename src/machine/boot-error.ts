/** A guest image that cannot be booted; the message is one line meant for the user. */
export class BootError extends Error {
  override name = 'BootError';
}

export function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}
