/* See kvm_abi.h: structs with flexible arrays, sized by the C compiler. */
#include <linux/kvm.h>
#include <stddef.h>

const unsigned long tsvisor_ioctl_get_supported_cpuid = KVM_GET_SUPPORTED_CPUID;
const unsigned long tsvisor_ioctl_get_msr_index_list = KVM_GET_MSR_INDEX_LIST;
const unsigned long tsvisor_ioctl_set_cpuid2 = KVM_SET_CPUID2;
const unsigned long tsvisor_ioctl_get_msrs = KVM_GET_MSRS;
const unsigned long tsvisor_ioctl_set_msrs = KVM_SET_MSRS;
const unsigned long tsvisor_ioctl_set_gsi_routing = KVM_SET_GSI_ROUTING;
const unsigned long tsvisor_ioctl_get_xsave = KVM_GET_XSAVE;
const unsigned long tsvisor_ioctl_set_xsave = KVM_SET_XSAVE;
const size_t tsvisor_sizeof_kvm_cpuid2 = sizeof(struct kvm_cpuid2);
const size_t tsvisor_sizeof_kvm_msr_list = sizeof(struct kvm_msr_list);
const size_t tsvisor_sizeof_kvm_msrs = sizeof(struct kvm_msrs);
const size_t tsvisor_sizeof_kvm_irq_routing = sizeof(struct kvm_irq_routing);
const size_t tsvisor_sizeof_kvm_xsave = sizeof(struct kvm_xsave);
