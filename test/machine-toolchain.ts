/** Builds tiny test kernels with the host's GNU as/ld; undefined results mean the tools are missing. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NO_TOOLCHAIN_MESSAGE = 'GNU as/ld not installed (binutils): skipping tests that assemble kernels';

export function haveToolchain(): boolean {
  return spawnSync('as', ['--version']).status === 0 && spawnSync('ld', ['--version']).status === 0;
}

/** Assembles `source` and links it with `script` into an ELF (32- or 64-bit), returning the file bytes. */
export function assembleElf(bits: 32 | 64, source: string, script: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'tsvisor-kernel-'));
  try {
    writeFileSync(join(dir, 'k.S'), source);
    writeFileSync(join(dir, 'k.ld'), script);
    const as = spawnSync('as', [bits === 32 ? '--32' : '--64', '-o', 'k.o', 'k.S'], { cwd: dir, encoding: 'utf8' });
    if (as.status !== 0) throw new Error(`as failed: ${as.stderr}`);
    const ld = spawnSync('ld', ['-m', bits === 32 ? 'elf_i386' : 'elf_x86_64', '-nostdlib', '--build-id=none', '-T', 'k.ld', '-o', 'k.elf', 'k.o'], { cwd: dir, encoding: 'utf8' });
    if (ld.status !== 0) throw new Error(`ld failed: ${ld.stderr}`);
    return readFileSync(join(dir, 'k.elf'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The PVH entry note: an 8-byte pointer as Linux writes it on 64-bit builds, 4 bytes on 32-bit ones. */
export function pvhNote(bits: 32 | 64): string {
  return `
.pushsection .note.Xen, "a", @note
.balign 4
.long 4, ${bits / 8}, 18
.asciz "Xen"
.balign 4
${bits === 64 ? '.quad' : '.long'} pvh_start
.balign 4
.popsection
`;
}

export const MULTIBOOT_HEADER = `
.pushsection .multiboot, "a"
.balign 4
.long 0x1BADB002, 0x00000003, -(0x1BADB002 + 3)
.popsection
`;
