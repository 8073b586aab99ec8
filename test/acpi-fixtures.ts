/** Runs iasl (acpica-tools) on tables written to a temporary directory; undefined when iasl is not installed. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NO_IASL_MESSAGE = 'iasl not installed (apt-get install acpica-tools): skipping the disassembly check';

export function haveIasl(): boolean {
  return spawnSync('iasl', ['-v'], { encoding: 'utf8' }).status === 0;
}

export interface Disassembly {
  readonly status: number | null;
  /** iasl's own messages (errors and warnings go here). */
  readonly log: string;
  readonly dsl: string;
}

/** `iasl -d` on one binary table. */
export function disassemble(name: string, table: Uint8Array): Disassembly {
  const dir = mkdtempSync(join(tmpdir(), 'tsvisor-acpi-'));
  try {
    const file = join(dir, `${name}.dat`);
    writeFileSync(file, table);
    const r = spawnSync('iasl', ['-d', file], { cwd: dir, encoding: 'utf8' });
    let dsl = '';
    try {
      dsl = readFileSync(join(dir, `${name}.dsl`), 'utf8');
    } catch {
      dsl = '';
    }
    return { status: r.status, log: `${r.stdout}\n${r.stderr}`, dsl };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
