/**
 * Cross-checks our boot path against a real PC model: loads the default
 * guest with loadGuestKernel (our zero page, E820, ACPI and MP tables,
 * entry state), then boots it in QEMU with a 128 KiB "BIOS" that holds
 * our 0xE0000-0xFFFFF area plus a trampoline that enters the entry state
 * (protected mode, then long mode with our GDT and page tables) — so QEMU's
 * own firmware and tables play no part. Passes when the guest reaches its
 * init and sees every vCPU through our MADT.
 *
 *   node dist/scripts/guest/qemu-boot-check.js [--kvm] [--cpus N] [--timeout S] [--kernel cloud|generic]
 * Needs qemu-system-x86_64, as and ld, and scripts/build-guest run first.
 * QEMU has no virtio-mmio device at our slot 0, so the guest's virtio_mmio
 * driver binding to our LNRO0005 node and then finding no device ("Wrong
 * magic value") shows the DSDT entry works. QEMU_MONITOR=/path/sock adds a
 * monitor socket for `info registers` when a boot hangs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registers, Segment, SpecialRegisters, Vcpu, VcpuStop } from '../../src/accel';
import { GuestMemory } from '../../src/memory/guest-memory';
import { applyEntryState } from '../../src/machine/entry-state';
import { loadGuestKernel } from '../../src/machine/guest-boot';
import { BIOS_AREA_END, BIOS_AREA_START, EBDA_START, MiB, virtioMmioSlot } from '../../src/machine/memory-layout';

const TRAMPOLINE_ADDR = 0xff000;
const GDTR_ADDR = 0xfff00;
const RESET_VECTOR = 0xffff0;
const MARKER = 'tsvisor-guest: init reached';

const blank = (): Segment => ({ base: 0n, limit: 0, selector: 0, type: 0, present: false, dpl: 0, db: false, s: false, l: false, g: false, avl: false, unusable: true });

/** Captures what applyEntryState would put in a vCPU. */
class CapturingVcpu implements Vcpu {
  readonly index = 0;
  regs: Registers = { rax: 0n, rbx: 0n, rcx: 0n, rdx: 0n, rsi: 0n, rdi: 0n, rsp: 0n, rbp: 0n, r8: 0n, r9: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n, rip: 0n, rflags: 2n };
  sregs: SpecialRegisters = {
    cs: blank(), ds: blank(), es: blank(), fs: blank(), gs: blank(), ss: blank(), tr: blank(), ldt: blank(),
    gdt: { base: 0n, limit: 0 }, idt: { base: 0n, limit: 0 }, cr0: 0n, cr2: 0n, cr3: 0n, cr4: 0n, cr8: 0n, efer: 0n, apicBase: 0n,
  };
  getRegisters(): Registers { return { ...this.regs }; }
  setRegisters(r: Registers): void { this.regs = { ...r }; }
  getSpecialRegisters(): SpecialRegisters { return { ...this.sregs }; }
  setSpecialRegisters(s: SpecialRegisters): void { this.sregs = { ...s }; }
  run(): VcpuStop { return { kind: 'halted' }; }
}

function trampolineSource(v: CapturingVcpu, mode: number): string {
  const h = (n: bigint | number): string => `0x${n.toString(16)}`;
  const long = mode === 64;
  return `
.code16
.globl _start
_start:
  cli
  # What a BIOS would do: put the PIIX4 PM registers at 0x600 (PMBA, then PMIOSE), where our FADT says they are.
  mov $0x80000b40, %eax
  mov $0xcf8, %dx
  outl %eax, %dx
  mov $0x601, %eax
  mov $0xcfc, %dx
  outl %eax, %dx
  mov $0x80000b80, %eax
  mov $0xcf8, %dx
  outl %eax, %dx
  mov $1, %al
  mov $0xcfc, %dx
  outb %al, %dx
  mov $0xf000, %ax
  mov %ax, %ds
  lgdtl ${h(GDTR_ADDR - 0xf0000)}
  mov %cr0, %eax
  or $1, %eax
  mov %eax, %cr0
  ljmpl $${h(v.sregs.cs.selector === 0x08 ? 0x18 : v.sregs.cs.selector)}, $pm32
.code32
pm32:
  mov $${h(v.sregs.ds.selector)}, %ax
  mov %ax, %ds
  mov %ax, %es
  mov %ax, %ss
  mov %ax, %fs
  mov %ax, %gs
${long ? `
  mov %cr4, %eax
  or $0x20, %eax
  mov %eax, %cr4
  mov $${h(v.sregs.cr3)}, %eax
  mov %eax, %cr3
  mov $0xc0000080, %ecx
  rdmsr
  or $0x100, %eax
  wrmsr
  mov %cr0, %eax
  or $0x80000000, %eax
  mov %eax, %cr0
  ljmp $${h(v.sregs.cs.selector)}, $lm64
.code64
lm64:
  movabs $${h(v.regs.rsi)}, %rsi
  movabs $${h(v.regs.rip)}, %rax
  jmp *%rax
` : `
  mov $${h(v.regs.rax)}, %eax
  mov $${h(v.regs.rbx)}, %ebx
  mov $${h(v.regs.rip)}, %ecx
  jmp *%ecx
`}
`;
}

function assemble(dir: string, source: string): Uint8Array {
  writeFileSync(join(dir, 't.S'), source);
  writeFileSync(join(dir, 't.ld'), `SECTIONS { . = ${TRAMPOLINE_ADDR}; .text : { *(.text) } }`);
  for (const [cmd, args] of [
    ['as', ['--32', '-o', 't.o', 't.S']],
    ['ld', ['-m', 'elf_i386', '--oformat', 'binary', '-T', 't.ld', '-o', 't.bin', 't.o']],
  ] as const) {
    const r = spawnSync(cmd, [...args], { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  }
  return readFileSync(join(dir, 't.bin'));
}

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

async function main(): Promise<number> {
  const cpus = Number(option('--cpus', '2'));
  const timeoutS = Number(option('--timeout', '60'));
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tsvisor', `guest-${option('--kernel', 'cloud')}`);
  const kernel = readFileSync(join(cache, 'vmlinuz'));
  const initrd = readFileSync(join(cache, 'initrd.img'));
  const ramBytes = 512 * MiB;
  const memory = new GuestMemory([{ guestAddress: 0, bytes: new Uint8Array(ramBytes) }]);
  const cmd = 'grep%20-c%20^processor%20/proc/cpuinfo;dmesg|grep%20-i%20-E%20"ACPI:%20(XSDT|DSDT|FACP|APIC)|smpboot|e820|LNRO|ACPI%20(Error|Warning)"';
  const boot = loadGuestKernel(memory, kernel, {
    cmdline: `console=ttyS0 panic=-1 tsvisor.cmd=${cmd};poweroff%20-f`,
    initrd,
    machine: { cpus, pci: true, virtioMmio: [virtioMmioSlot(0)] },
  });
  console.log(`qemu-boot-check: ${boot.summary}`);
  const vcpu = new CapturingVcpu();
  applyEntryState(vcpu, memory, boot.entry);

  const dir = mkdtempSync(join(tmpdir(), 'tsvisor-qemu-'));
  try {
    const bios = memory.read(BIOS_AREA_START, BIOS_AREA_END - BIOS_AREA_START);
    const code = assemble(dir, trampolineSource(vcpu, boot.entry.mode));
    bios.set(code, TRAMPOLINE_ADDR - BIOS_AREA_START);
    const gdtr = new DataView(bios.buffer, GDTR_ADDR - BIOS_AREA_START, 6);
    gdtr.setUint16(0, vcpu.sregs.gdt.limit, true);
    gdtr.setUint32(2, Number(vcpu.sregs.gdt.base), true);
    // Reset vector: jmp far 0xf000:0xf000 (the trampoline at 0xff000).
    bios.set([0xea, 0x00, 0xf0, 0x00, 0xf0], RESET_VECTOR - BIOS_AREA_START);
    writeFileSync(join(dir, 'bios.bin'), bios);
    const pieces: [string, number, number][] = [['low', 0, EBDA_START], ['kernel', boot.kernel.address, boot.kernel.size]];
    if (boot.initrd) pieces.push(['initrd', boot.initrd.address, boot.initrd.size]);
    const args = ['-machine', 'pc', '-m', `${ramBytes / MiB}`, '-smp', `${cpus}`, '-bios', join(dir, 'bios.bin'),
      '-nodefaults', '-display', 'none', '-serial', 'stdio', '-no-reboot'];
    if (process.env.QEMU_MONITOR) args.push('-monitor', `unix:${process.env.QEMU_MONITOR},server,nowait`);
    args.push(...(process.argv.includes('--kvm') ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg', '-cpu', 'max']));
    for (const [name, addr, size] of pieces) {
      writeFileSync(join(dir, `${name}.bin`), memory.read(addr, size));
      args.push('-device', `loader,file=${join(dir, `${name}.bin`)},addr=0x${addr.toString(16)},force-raw=on`);
    }
    const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => qemu.kill('SIGTERM'), timeoutS * 1000);
    qemu.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      out += chunk.toString('latin1');
      if (/reboot: Power down|Kernel panic/.test(out)) qemu.kill('SIGTERM');
    });
    await new Promise((resolve) => qemu.on('close', resolve));
    clearTimeout(timer);
    const cpusSeen = /tsvisor-guest: running[^\n]*\n\s*(\d+)/.exec(out)?.[1];
    const virtioMmioBound = /virtio-mmio LNRO0005:00/.test(out);
    const acpiErrors = /ACPI (BIOS )?(Error|Warning)/.test(out);
    const ok = out.includes(MARKER) && Number(cpusSeen) === cpus && virtioMmioBound && !acpiErrors;
    console.log(
      `\nqemu-boot-check: ${ok ? 'PASS' : 'FAIL'}: marker ${out.includes(MARKER) ? 'seen' : 'missing'}, ${cpusSeen ?? '?'} of ${cpus} CPUs online, ` +
        `virtio-mmio ${virtioMmioBound ? 'bound to LNRO0005' : 'not bound'}, ${acpiErrors ? 'ACPI errors logged' : 'no ACPI errors'}`,
    );
    return ok ? 0 : 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (e: unknown) => {
  console.error(`qemu-boot-check: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(2);
});
