/**
 * Assembles tiny guests and test programs at test time with the system
 * binutils: `as` (64- or 32-bit object; 16/32-bit code chosen with
 * .code16/.code32 in the source), `ld` to place it at its load address,
 * `objcopy -O binary` to a flat image. Binaries are never committed.
 *
 * assemble/assembleFile: source -> flat .text image (fresh temp dir per call).
 * assembleImage: source or file (with .include search) -> linked ELF or flat
 * binary, cached in a temp directory keyed by the sources and options
 * (the Multiboot system-test guests use this).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface AssembleOptions {
  bits?: 32 | 64;
  /** Address the code is linked for (ld -Ttext). */
  loadAddress: number;
}

/** Source text (GNU as syntax) -> flat binary. */
export function assemble(source: string, options: AssembleOptions): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'tsvisor-asm-'));
  try {
    const bits = options.bits ?? 64;
    const src = join(dir, 'guest.S');
    const obj = join(dir, 'guest.o');
    const linked = join(dir, 'guest.elf');
    const bin = join(dir, 'guest.bin');
    writeFileSync(src, source.endsWith('\n') ? source : source + '\n');
    const runTool = (cmd: string, args: string[]): void => {
      try {
        execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (e) {
        const stderr = (e as { stderr?: Buffer }).stderr?.toString() ?? '';
        throw new Error(`${cmd} failed: ${stderr || String(e)}`);
      }
    };
    runTool('as', [bits === 64 ? '--64' : '--32', '-o', obj, src]);
    runTool('ld', [bits === 64 ? '-melf_x86_64' : '-melf_i386', '-Ttext', `0x${options.loadAddress.toString(16)}`, '-e', '0', '-o', linked, obj]);
    runTool('objcopy', ['-O', 'binary', '-j', '.text', linked, bin]);
    return new Uint8Array(readFileSync(bin));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Assembles a file under test/guests/ (the source tree, not dist/). */
export function assembleFile(name: string, options: AssembleOptions): Uint8Array {
  const path = join(__dirname, '..', '..', '..', 'test', 'guests', name);
  return assemble(readFileSync(path, 'utf8'), options);
}

export interface ImageOptions {
  /** Object format and `as` mode: --64 (default) or --32. */
  bits?: 32 | 64;
  /** 'binary' (objcopy -O binary of the linked image) or 'elf' (the linked ELF). Default 'elf'. */
  output?: 'binary' | 'elf';
  /** Address of .text (ld -Ttext). Default 0x100000. */
  textAddress?: number;
  /** Entry symbol. Default _start (ld warns, not fails, when it is missing). */
  entry?: string;
  /** Directories searched by `.include` (as -I). */
  includeDirs?: string[];
  /** Extra `ld` arguments (a linker script, -N, ...). */
  ldArgs?: string[];
  /**
   * Assemble and link as 64-bit (so .code32 and .code64 may be mixed), then
   * convert the ELF to elf32-i386: what a Multiboot loader (QEMU -kernel) takes.
   */
  elf32?: boolean;
}

export interface Assembled {
  /** Path of the output file (binary or ELF). */
  path: string;
  bytes: Uint8Array;
}

/** Why the toolchain cannot be used here, or undefined when `as` and `ld` run. */
export function toolchainMissing(): string | undefined {
  for (const tool of ['as', 'ld', 'objcopy']) {
    const r = spawnSync(tool, ['--version'], { encoding: 'utf8' });
    if (r.error || r.status !== 0) return `${tool} not available`;
  }
  return undefined;
}

function includedFiles(source: string, includeDirs: string[]): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/^\s*\.include\s+"([^"]+)"/gm)) {
    for (const d of includeDirs) {
      const p = join(d, m[1]);
      if (existsSync(p)) { out.push(readFileSync(p, 'utf8')); break; }
    }
  }
  return out;
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
}

/**
 * Assemble `source` (the text of a .s/.S file, or `{ file }` to read one;
 * a file's directory is searched for includes) and link it.
 */
export function assembleImage(source: string | { file: string }, opts: ImageOptions = {}): Assembled {
  const text = typeof source === 'string' ? source : readFileSync(source.file, 'utf8');
  const includeDirs = [...(opts.includeDirs ?? []), ...(typeof source === 'string' ? [] : [dirname(source.file)])];
  const bits = opts.elf32 ? 64 : (opts.bits ?? 64);
  const output = opts.output ?? 'elf';
  const key = createHash('sha256')
    .update(JSON.stringify({ v: 2, text, inc: includedFiles(text, includeDirs), bits, output, e32: opts.elf32, t: opts.textAddress, e: opts.entry, l: opts.ldArgs }))
    .digest('hex').slice(0, 20);
  const dir = join(tmpdir(), 'tsvisor-asm');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${key}.${output === 'elf' ? 'elf' : 'bin'}`);
  if (!existsSync(path)) {
    const work = join(dir, `${key}.${process.pid}`);
    writeFileSync(`${work}.s`, text);
    run('as', [`--${bits}`, ...includeDirs.flatMap((d) => ['-I', d]), '-o', `${work}.o`, `${work}.s`]);
    run('ld', ['-m', bits === 32 ? 'elf_i386' : 'elf_x86_64', '--build-id=none', '-z', 'max-page-size=0x1000', '-z', 'noexecstack',
      `-Ttext=0x${(opts.textAddress ?? 0x100000).toString(16)}`, '-e', opts.entry ?? '_start',
      // -n: no page alignment, so the ELF headers are not a LOAD segment below .text
      // (a Multiboot loader would otherwise be asked to load them under 1 MiB).
      ...(opts.elf32 ? ['-n'] : []), ...(opts.ldArgs ?? []), '-o', `${work}.elf`, `${work}.o`]);
    if (output === 'binary') run('objcopy', ['-O', 'binary', `${work}.elf`, `${work}.bin`]);
    else if (opts.elf32) run('objcopy', ['-O', 'elf32-i386', `${work}.elf`, `${work}.elf`]);
    // Rename last: parallel test processes may assemble the same source.
    renameSync(`${work}.${output === 'elf' ? 'elf' : 'bin'}`, path);
  }
  return { path, bytes: new Uint8Array(readFileSync(path)) };
}
