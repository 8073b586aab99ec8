/** The KVM backend: see accelerator.ts for the entry point. */
export { createKvmAccelerator, KvmAccelerator, KVM_TSS_ADDRESS, KVM_IDENTITY_MAP_ADDRESS } from './accelerator';
export { Kvm, KVM_API_VERSION } from './kvm';
export { KvmVm, GsiRoute, eventfd } from './vm';
export { KvmVcpu } from './vcpu';
export { kickVcpu } from './kick';
export { KvmExit, decodeExit, describeExit } from './exits';
export { CpuidEntry, cpuidForVcpu, findCpuid } from './cpuid';
export { isKvmError, KvmError, KvmBindingMissing, kvmBinding } from './binding';
export { describeSharedRam, attachSharedRam, SharedRamDescriptor } from './shared-memory';
