/** Reads a kernel or initrd file, turning every failure into one clear line. */
import { readFileSync, statSync } from 'node:fs';
import { CliError } from './errors';

export function readImage(path: string, what: 'kernel' | 'initrd'): Uint8Array {
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new CliError(`cannot read ${what} '${path}': it is a directory`);
    size = st.size;
  } catch (e) {
    if (e instanceof CliError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliError(`cannot read ${what} '${path}': no such file`);
    if (code === 'EACCES') throw new CliError(`cannot read ${what} '${path}': permission denied`);
    throw new CliError(`cannot read ${what} '${path}': ${code ?? String(e)}`);
  }
  if (size === 0) throw new CliError(`${what} '${path}' is empty`);
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(`cannot read ${what} '${path}': ${code === 'EACCES' ? 'permission denied' : code ?? String(e)}`);
  }
}
