import t from 'tap';
import { Kvm, KVM_API_VERSION } from '../src/kvm/kvm';
import { KvmVm } from '../src/kvm/vm';
import { kvmBinding, isKvmError } from '../src/kvm/binding';
import { cpuidForVcpu, findCpuid } from '../src/kvm/cpuid';
import { kvmSkipReason, startRawGuest, GUEST_DONE } from './helpers/kvm-guest';

const skip = kvmSkipReason();

t.test('capabilities, supported CPUID and MSR list are readable', { skip }, async (t) => {
  const kvm = Kvm.open();
  t.teardown(() => kvm.close());
  t.equal(kvm.apiVersion, KVM_API_VERSION);
  for (const cap of ['IRQCHIP', 'USER_MEMORY', 'SET_TSS_ADDR', 'PIT2', 'IMMEDIATE_EXIT', 'IOEVENTFD', 'IRQFD'] as const) {
    t.ok(kvm.checkExtension(cap) > 0, `KVM_CAP_${cap}`);
  }
  t.ok(kvm.vcpuMmapSize >= 4096, 'kvm_run mapping is at least a page');
  const cpuid = kvm.supportedCpuid();
  const leaf0 = findCpuid(cpuid, 0);
  t.ok(leaf0 && leaf0.eax >= 1, 'leaf 0 reports a max basic leaf');
  t.ok(findCpuid(cpuid, 1), 'leaf 1 present');
  t.ok(kvm.msrIndexList().length > 0, 'some MSRs are saveable');
});

t.test('per-vCPU CPUID: hypervisor bit, KVM signature, APIC IDs', { skip }, async (t) => {
  const kvm = Kvm.open();
  t.teardown(() => kvm.close());
  const table = cpuidForVcpu(kvm.supportedCpuid(), 3);
  const leaf1 = findCpuid(table, 1)!;
  t.equal(leaf1.ecx >>> 31, 1, 'hypervisor bit');
  t.equal(leaf1.ebx >>> 24, 3, 'initial APIC ID in EBX[31:24]');
  const sig = findCpuid(table, 0x40000000)!;
  const text = Buffer.alloc(12);
  text.writeUInt32LE(sig.ebx, 0);
  text.writeUInt32LE(sig.ecx, 4);
  text.writeUInt32LE(sig.edx, 8);
  t.equal(text.toString('latin1'), 'KVMKVMKVM\0\0\0');
  t.ok(findCpuid(table, 0x40000001), 'KVM features leaf');
  for (const e of table.filter((e) => e.function === 0xb || e.function === 0x1f)) t.equal(e.edx, 3, `leaf 0x${e.function.toString(16)}.${e.index} x2APIC ID`);
});

t.test('the guest sees the KVM signature and the hypervisor bit through CPUID', { skip }, async (t) => {
  const { acc, probe } = startRawGuest({
    mode: 64,
    source: `
      mov $0x40000000, %eax
      cpuid
      mov %ebx, %eax
      out %eax, $0x10
      mov %ecx, %eax
      out %eax, $0x10
      mov %edx, %eax
      out %eax, $0x10
      mov $1, %eax
      cpuid
      mov %ecx, %eax
      out %eax, $0x14
      mov %ebx, %eax
      out %eax, $0x14
      ${GUEST_DONE}`,
  });
  t.teardown(() => acc.destroy());
  t.same(acc.vcpus[0].run(), { kind: 'kicked' });
  const words = probe.accesses.map((a) => Number(a.value));
  const text = Buffer.alloc(12);
  words.slice(0, 3).forEach((w, i) => text.writeUInt32LE(w, i * 4));
  t.equal(text.toString('latin1'), 'KVMKVMKVM\0\0\0');
  t.equal(words[3] >>> 31, 1, 'CPUID.1:ECX.hypervisor');
  t.equal(words[4] >>> 24, 0, 'vCPU 0 has APIC ID 0');
});

t.test('failing ioctls throw errors that name the ioctl and errno', { skip }, async (t) => {
  const kvm = Kvm.open();
  const vm = new KvmVm(kvm);
  t.teardown(() => { vm.destroy(); kvm.close(); });
  const b = kvmBinding();
  b.createVcpu(vm.fd, 0);
  try {
    b.createVcpu(vm.fd, 0);
    t.fail('a second vCPU 0 should be refused');
  } catch (e) {
    t.ok(isKvmError(e));
    t.match(e, { message: 'KVM_CREATE_VCPU: EEXIST', code: 'EEXIST', errno: 17 });
  }
  vm.addRam(0, 0x10000);
  t.throws(() => vm.addRam(0x8000, 0x10000), { message: 'KVM_SET_USER_MEMORY_REGION: EEXIST', code: 'EEXIST' }, 'overlapping slots');
  t.throws(() => b.apiVersion(-1), { message: 'KVM_GET_API_VERSION: EBADF', code: 'EBADF', errno: 9 });
  t.throws(() => b.createVm(-1), /^KVM_CREATE_VM: EBADF$/);
});
