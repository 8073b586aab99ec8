/**
 * bzImages whose LZ4 payload holds a PVH vmlinux are decompressed on the host
 * and booted through PVH; every other bzImage keeps the in-guest path.
 * Synthetic images (GNU as/ld and the lz4 CLI) cover the decisions and the
 * refusals; the Debian kernels, when built, cover the real thing.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { HDR, parseSetupHeader } from '../src/machine/bzimage';
import { bzImagePayload, decompressLz4Payload, payloadCompression, payloadOutputSize } from '../src/machine/bzimage-payload';
import { planBzImageBoot } from '../src/machine/bzimage-pvh';
import { parseElf, PT_LOAD } from '../src/machine/elf';
import { loadGuestKernel } from '../src/machine/guest-boot';
import { pvhEntry } from '../src/machine/pvh';
import { BOOT_INFO_ADDR, CMDLINE_ADDR, MiB } from '../src/machine/memory-layout';
import { NO_GUEST_MESSAGE, builtGuest, fakeBzImage, guestMemory } from './machine-fixtures';
import { NO_TOOLCHAIN_MESSAGE, assembleElf, haveToolchain, pvhNote } from './machine-toolchain';

const haveLz4 = spawnSync('lz4', ['--version']).status === 0;
const skipSynthetic = !haveToolchain() ? NO_TOOLCHAIN_MESSAGE : !haveLz4 ? 'lz4 CLI not installed (apt-get install lz4)' : false;

const SCRIPT = `
ENTRY(pvh_start)
SECTIONS {
  . = 0x1000000;
  .text : { *(.text) }
  .note : { *(.note.Xen) }
  .bss : { *(.bss) }
}
`;
const BODY = `
.text
.code32
.globl pvh_start
pvh_start:
  hlt
  jmp pvh_start
.bss
.space 0x3000
`;

function lz4Legacy(data: Uint8Array): Uint8Array {
  const r = spawnSync('lz4', ['-l', '-c'], { input: data, maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`lz4 failed: ${r.stderr.toString()}`);
  return new Uint8Array(r.stdout);
}

/** Compressed stream + the 4-byte decompressed size, as the kernel build's size_append leaves it. */
function kernelPayload(stream: Uint8Array, size: number): Uint8Array {
  const p = new Uint8Array(stream.length + 4);
  p.set(stream);
  new DataView(p.buffer).setUint32(stream.length, size, true);
  return p;
}

/** A synthetic bzImage carrying `payload` at payload_offset 0x40 of its protected-mode part. */
function bzImageWith(payload: Uint8Array, initSize = 0x400000): Uint8Array {
  const kernelBytes = Math.ceil((0x40 + payload.length) / 16) * 16;
  const image = fakeBzImage({ kernelBytes, initSize });
  const setupBytes = 5 * 512;
  image.set(payload, setupBytes + 0x40);
  const v = new DataView(image.buffer);
  v.setUint32(HDR.payloadOffset, 0x40, true);
  v.setUint32(HDR.payloadLength, payload.length, true);
  return image;
}

t.test('synthetic bzImage: an LZ4 payload with a PVH note boots through PVH; anything else stays in-guest', { skip: skipSynthetic }, async (t) => {
  const elf = assembleElf(64, pvhNote(64) + BODY, SCRIPT);
  const image = bzImageWith(kernelPayload(lz4Legacy(elf), elf.length));
  const plan = planBzImageBoot(image);
  t.equal(plan.kind, 'pvh');
  if (plan.kind === 'pvh') t.ok(Buffer.from(plan.vmlinux).equals(Buffer.from(elf)), 'the vmlinux is the ELF that was compressed');

  const mem = guestMemory(64 * MiB);
  const initrd = new Uint8Array(5000).fill(9);
  const boot = loadGuestKernel(mem, image, { cmdline: 'console=ttyS0', initrd, machine: { cpus: 1 } });
  t.equal(boot.format, 'bzimage');
  t.equal(boot.bzImage, 'pvh');
  t.equal(boot.entry.protocol, 'pvh');
  t.equal(boot.entry.mode, 32);
  t.equal(boot.entry.rip, 0x1000000n);
  t.equal(boot.entry.registers.rbx, BigInt(BOOT_INFO_ADDR), 'EBX = hvm_start_info');
  t.same([...mem.read(0x1000000, 3)], [0xf4, 0xeb, 0xfd], 'the decompressed kernel at its physical address');
  t.equal(Number(mem.readU64(BOOT_INFO_ADDR + 0x20)), boot.acpi?.rsdpAddr, 'the same ACPI tables, through rsdp_paddr');
  t.equal(mem.readU32(BOOT_INFO_ADDR + 0x30), boot.e820.length, 'the same e820, as the PVH memory map');
  t.match(boot.summary, /^bzimage \(LZ4 payload decompressed on the host to \d+ bytes, PVH entry\): /);

  const guest = loadGuestKernel(guestMemory(64 * MiB), image, { cmdline: '', machine: { cpus: 1 }, bzImageDecompression: 'guest' });
  t.equal(guest.bzImage, 'in-guest');
  t.equal(guest.inGuestReason, 'in-guest decompression asked for');
  t.equal(guest.entry.protocol, 'linux-bzimage', 'bzImageDecompression: guest keeps the 64-bit bzImage entry');
  t.equal(guest.entry.rip, 0x100200n);

  const noNote = assembleElf(64, BODY, SCRIPT);
  t.same(planBzImageBoot(bzImageWith(kernelPayload(lz4Legacy(noNote), noNote.length))), {
    kind: 'in-guest', reason: 'the decompressed kernel has no PVH entry note (CONFIG_PVH off)',
  });
  const notElf = new Uint8Array(4096).fill(0x90);
  t.same(planBzImageBoot(bzImageWith(kernelPayload(lz4Legacy(notElf), notElf.length))), { kind: 'in-guest', reason: 'the decompressed kernel is not an ELF file' });
  const gzip = Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0);
  t.same(planBzImageBoot(bzImageWith(gzip)), { kind: 'in-guest', reason: 'gzip payload (only LZ4 is decompressed on the host)' });
  t.equal(loadGuestKernel(guestMemory(64 * MiB), bzImageWith(gzip), { cmdline: '', machine: { cpus: 1 } }).entry.protocol, 'linux-bzimage');
  t.same(planBzImageBoot(fakeBzImage()), { kind: 'in-guest', reason: 'no payload inside the image per payload_offset/payload_length' });
});

t.test('a corrupt LZ4 payload is refused with one line that names the way out', { skip: skipSynthetic }, async (t) => {
  const elf = assembleElf(64, pvhNote(64) + BODY, SCRIPT);
  const stream = lz4Legacy(elf);
  const hint = /\(--kernel-format bzimage leaves it to the kernel's own decompressor\)$/;
  const truncated = bzImageWith(kernelPayload(stream.subarray(0, stream.length - 10), elf.length));
  t.throws(() => planBzImageBoot(truncated), { name: 'BootError', message: /^bzImage LZ4 payload is corrupt: truncated input: block 0 at offset 4 needs \d+ bytes, \d+ left/ });
  t.throws(() => planBzImageBoot(truncated), { message: hint });
  t.throws(() => planBzImageBoot(bzImageWith(kernelPayload(stream, elf.length - 1))), { message: /corrupt: block 0 at offset 4: .* overflows the output/ });
  t.throws(() => planBzImageBoot(bzImageWith(kernelPayload(stream, elf.length + 1))), {
    message: `bzImage LZ4 payload is corrupt: decompressed to ${elf.length} bytes, the trailer says ${elf.length + 1} (--kernel-format bzimage leaves it to the kernel's own decompressor)`,
  });
  t.throws(() => planBzImageBoot(bzImageWith(kernelPayload(stream, elf.length), elf.length - 1)), { message: /corrupt: decompressed size \d+ exceeds init_size \d+ / });
  // loadGuestKernel refuses too: the in-guest decompressor would only fail later, on the guest's console.
  t.throws(() => loadGuestKernel(guestMemory(64 * MiB), truncated, { cmdline: '', machine: { cpus: 1 } }), { name: 'BootError' });
  t.doesNotThrow(() => loadGuestKernel(guestMemory(64 * MiB), truncated, { cmdline: '', machine: { cpus: 1 }, bzImageDecompression: 'guest' }));
});

const cloud = builtGuest('cloud');
t.test('the Debian cloud kernel: LZ4 payload, a PVH vmlinux within init_size, booted through the PVH entry', { skip: cloud ? false : NO_GUEST_MESSAGE }, async (t) => {
  if (!cloud) return;
  const header = parseSetupHeader(cloud.kernel);
  t.ok(header.version >= 0x0208, 'payload_offset/payload_length are there (protocol 2.08+)');
  const payload = bzImagePayload(cloud.kernel, header);
  if (!payload) return t.fail('no payload');
  t.equal(payloadCompression(payload), 'lz4');
  const started = performance.now();
  const vmlinux = decompressLz4Payload(payload, header);
  const ms = performance.now() - started;
  t.equal(vmlinux.length, payloadOutputSize(payload), `decompressed size ${vmlinux.length} is the trailer's (${ms.toFixed(0)} ms on the host)`);
  t.ok(vmlinux.length <= header.initSize, `within init_size ${header.initSize}`);
  if (haveLz4) {
    const r = spawnSync('lz4', ['-d', '-c'], { input: payload.subarray(0, payload.length - 4), maxBuffer: 256 << 20 });
    t.equal(r.status, 0, 'lz4 -d reads the payload without its size trailer');
    t.ok(Buffer.from(vmlinux).equals(r.stdout), 'byte for byte what lz4 -d gives');
  }
  const elf = parseElf(vmlinux);
  t.equal(elf.class, 64);
  const entry = pvhEntry(elf);
  t.ok(entry !== undefined, 'XEN_ELFNOTE_PHYS32_ENTRY is there');

  const mem = guestMemory(512 * MiB);
  const boot = loadGuestKernel(mem, cloud.kernel, { cmdline: 'console=ttyS0', initrd: cloud.initrd, machine: { cpus: 2 } });
  t.equal(boot.bzImage, 'pvh');
  t.equal(boot.entry.protocol, 'pvh');
  t.equal(boot.entry.mode, 32);
  t.equal(boot.entry.rip, BigInt(entry ?? -1), 'RIP = the PVH entry point');
  const text = elf.segments.find((s) => s.type === PT_LOAD);
  if (text) t.ok(Buffer.from(mem.read(text.paddr, 4096)).equals(Buffer.from(vmlinux.subarray(text.offset, text.offset + 4096))), 'first segment at its physical address');
  t.equal(new TextDecoder().decode(mem.read(CMDLINE_ADDR, 14)), 'console=ttyS0\0');
  const modlist = Number(mem.readU64(BOOT_INFO_ADDR + 0x10));
  t.equal(Number(mem.readU64(modlist + 8)), cloud.initrd.length, 'the initrd as the one PVH module');
  t.same(mem.read(Number(mem.readU64(modlist)), 64), cloud.initrd.subarray(0, 64));
  t.equal(loadGuestKernel(guestMemory(512 * MiB), cloud.kernel, { cmdline: '', machine: { cpus: 1 }, bzImageDecompression: 'guest' }).entry.protocol, 'linux-bzimage');
});

const generic = builtGuest('generic');
t.test('the Debian generic kernel (XZ payload) keeps the in-guest decompressor', { skip: generic ? false : 'generic guest not built: run scripts/build-guest --kernel generic' }, async (t) => {
  if (!generic) return;
  t.same(planBzImageBoot(generic.kernel), { kind: 'in-guest', reason: 'xz payload (only LZ4 is decompressed on the host)' });
  t.equal(loadGuestKernel(guestMemory(512 * MiB), generic.kernel, { cmdline: '', machine: { cpus: 1 } }).entry.protocol, 'linux-bzimage');
});
