#!/usr/bin/env node
// Runs the tap suite over the compiled tests and ends with one summary line,
// "N passed, N failed, N skipped", which CI and humans read.
// Usage: node scripts/run-tests.mjs [test files or globs relative to dist/]
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const testDir = join(root, 'dist', 'test');

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...collect(p));
    else if (name.endsWith('.test.js')) out.push(relative(root, p));
  }
  return out;
}

const files = process.argv.length > 2 ? process.argv.slice(2) : collect(testDir);
const tapBin = join(root, 'node_modules', '.bin', 'tap');
const child = spawn(tapBin, ['run', '--reporter=tap', ...files], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });

let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-4096);
});
child.on('close', (code) => {
  const m = /# \{ total: (\d+)(?:, pass: (\d+))?(?:, fail: (\d+))?(?:, todo: (\d+))?(?:, skip: (\d+))?/.exec(tail);
  const pass = Number(m?.[2] ?? 0);
  const fail = Number(m?.[3] ?? 0);
  const skip = Number(m?.[5] ?? 0);
  const failed = m ? fail : Math.max(fail, 1);
  console.log(`\ntests: ${pass} passed, ${failed} failed, ${skip} skipped`);
  process.exit(code === 0 && failed === 0 ? 0 : 1);
});
