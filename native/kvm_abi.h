// ioctl numbers and header sizes for the kernel structs that end in a
// flexible array. g++ sizes those structs differently from C (kvm_cpuid2 is
// 12 bytes in C++, 8 in C), and the ioctl number encodes the size, so a C++
// KVM_GET_SUPPORTED_CPUID is a different, unknown ioctl (EINVAL). These are
// therefore computed by the C compiler in kvm_abi.c.
#pragma once
#include <cstddef>

extern "C" {
extern const unsigned long tsvisor_ioctl_get_supported_cpuid;
extern const unsigned long tsvisor_ioctl_get_msr_index_list;
extern const unsigned long tsvisor_ioctl_set_cpuid2;
extern const unsigned long tsvisor_ioctl_get_msrs;
extern const unsigned long tsvisor_ioctl_set_msrs;
extern const unsigned long tsvisor_ioctl_set_gsi_routing;
extern const unsigned long tsvisor_ioctl_get_xsave;
extern const unsigned long tsvisor_ioctl_set_xsave;
// Bytes before the flexible array (the C sizeof).
extern const size_t tsvisor_sizeof_kvm_cpuid2;
extern const size_t tsvisor_sizeof_kvm_msr_list;
extern const size_t tsvisor_sizeof_kvm_msrs;
extern const size_t tsvisor_sizeof_kvm_irq_routing;
extern const size_t tsvisor_sizeof_kvm_xsave;
}
