/**
 * Loads the software CPU's user-mode entry point if it exists yet. The
 * harness is written against its interface before the implementation lands,
 * so a missing module is a reason to skip, not an error.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RunUserMode } from './layout';

const MODULE = join(__dirname, '..', '..', 'src', 'tcg-fallback', 'user-mode-runner.js');

export function loadSoftCpu(): { run: RunUserMode } | { missing: string } {
  if (!existsSync(MODULE)) return { missing: 'src/tcg-fallback/user-mode-runner.ts does not exist yet' };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(MODULE) as { runUserMode?: RunUserMode };
    if (typeof mod.runUserMode !== 'function') return { missing: 'user-mode-runner does not export runUserMode' };
    return { run: mod.runUserMode };
  } catch (e) {
    return { missing: `user-mode-runner failed to load: ${(e as Error).message}` };
  }
}
