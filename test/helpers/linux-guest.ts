/**
 * The Debian guests built by scripts/build-guest, for tests that boot Linux:
 * where they are, why a test must skip without them, and how /init's
 * tsvisor.cmd is written on the kernel command line.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export type GuestVariant = 'cloud' | 'generic';

export interface LinuxGuest {
  kernel: string;
  initrd: string;
  /** A reason to skip (guest not built, or Linux tests turned off), or false. */
  skip: string | false;
}

/** Boots under the software CPU take a minute or more; the default per-test limit is far shorter. */
export const LINUX_BOOT_TIMEOUT_MS = Number(process.env.TSVISOR_LINUX_TIMEOUT_S ?? 900) * 1000;

export function linuxGuest(variant: GuestVariant): LinuxGuest {
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const dir = join(cache, 'tsvisor', `guest-${variant}`);
  const kernel = join(dir, 'vmlinuz');
  const initrd = join(dir, 'initrd.img');
  let skip: string | false = false;
  if (process.env.TSVISOR_LINUX_TESTS === '0') skip = 'Linux boot tests turned off (TSVISOR_LINUX_TESTS=0)';
  else if (!existsSync(kernel) || !existsSync(initrd)) skip = `no ${variant} guest in ${dir}: run scripts/build-guest --kernel ${variant}`;
  return { kernel, initrd, skip };
}

/** tsvisor.cmd=… for /init: the steps run in order whatever each returns (spaces travel as %20). */
export function guestCmd(steps: string[]): string {
  const cmd = steps.join(';');
  if (/["']/.test(cmd)) throw new Error('no quotes in guest commands');
  return `tsvisor.cmd=${cmd.replace(/ /g, '%20')}`;
}
