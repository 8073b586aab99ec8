/**
 * The version the monitor reports. `qemu` is the QEMU release whose QMP
 * behaviour tsvisor reproduces, not a claim to be QEMU: libvirt decides which
 * commands and arguments to use from this triple (and refuses QEMU older
 * than 4.2), so reporting the release we test against (Debian 12's 7.2)
 * makes libvirt talk to us as to a modern QEMU. `package` names the real
 * software, so logs and `info version` say what is running.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { qmpSchemaDir } from './schema-files';

export const QEMU_COMPAT_VERSION = { major: 7, minor: 2, micro: 0 } as const;

function tsvisorVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(join(qmpSchemaDir(), '..', '..', 'package.json'), 'utf8'));
    if (typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string') return pkg.version;
  } catch {
    // fall through: a missing package.json must not stop the monitor
  }
  return 'unknown';
}

export const TSVISOR_PACKAGE = `tsvisor ${tsvisorVersion()}`;
