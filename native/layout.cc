// Kernel ABI facts TypeScript needs to decode raw structs: field offsets in
// kvm_run, struct sizes, exit reasons and capability numbers, all taken from
// <linux/kvm.h> at build time so TypeScript never hard-codes them wrongly.
#include "common.h"
#include <linux/kvm.h>
#include <cstddef>

namespace tsvisor {

#define SET_NUM(obj, name, value) obj.Set(name, Napi::Number::New(env, static_cast<double>(value)))

void RegisterLayout(Napi::Env env, Napi::Object exports) {
  Napi::Object run = Napi::Object::New(env);
  SET_NUM(run, "requestInterruptWindow", offsetof(kvm_run, request_interrupt_window));
  SET_NUM(run, "immediateExit", offsetof(kvm_run, immediate_exit));
  SET_NUM(run, "exitReason", offsetof(kvm_run, exit_reason));
  SET_NUM(run, "readyForInterruptInjection", offsetof(kvm_run, ready_for_interrupt_injection));
  SET_NUM(run, "ifFlag", offsetof(kvm_run, if_flag));
  SET_NUM(run, "ioDirection", offsetof(kvm_run, io.direction));
  SET_NUM(run, "ioSize", offsetof(kvm_run, io.size));
  SET_NUM(run, "ioPort", offsetof(kvm_run, io.port));
  SET_NUM(run, "ioCount", offsetof(kvm_run, io.count));
  SET_NUM(run, "ioDataOffset", offsetof(kvm_run, io.data_offset));
  SET_NUM(run, "mmioPhysAddr", offsetof(kvm_run, mmio.phys_addr));
  SET_NUM(run, "mmioData", offsetof(kvm_run, mmio.data));
  SET_NUM(run, "mmioLen", offsetof(kvm_run, mmio.len));
  SET_NUM(run, "mmioIsWrite", offsetof(kvm_run, mmio.is_write));
  SET_NUM(run, "failEntryReason", offsetof(kvm_run, fail_entry.hardware_entry_failure_reason));
  SET_NUM(run, "failEntryCpu", offsetof(kvm_run, fail_entry.cpu));
  SET_NUM(run, "hwExitReason", offsetof(kvm_run, hw.hardware_exit_reason));
  SET_NUM(run, "internalSuberror", offsetof(kvm_run, internal.suberror));
  SET_NUM(run, "internalNdata", offsetof(kvm_run, internal.ndata));
  SET_NUM(run, "internalData", offsetof(kvm_run, internal.data));
  SET_NUM(run, "systemEventType", offsetof(kvm_run, system_event.type));
  SET_NUM(run, "systemEventNdata", offsetof(kvm_run, system_event.ndata));
  SET_NUM(run, "systemEventData", offsetof(kvm_run, system_event.data));
  SET_NUM(run, "exceptionNumber", offsetof(kvm_run, ex.exception));
  SET_NUM(run, "exceptionErrorCode", offsetof(kvm_run, ex.error_code));
  exports.Set("runOffsets", run);

  Napi::Object exits = Napi::Object::New(env);
  SET_NUM(exits, "UNKNOWN", KVM_EXIT_UNKNOWN);
  SET_NUM(exits, "EXCEPTION", KVM_EXIT_EXCEPTION);
  SET_NUM(exits, "IO", KVM_EXIT_IO);
  SET_NUM(exits, "HYPERCALL", KVM_EXIT_HYPERCALL);
  SET_NUM(exits, "DEBUG", KVM_EXIT_DEBUG);
  SET_NUM(exits, "HLT", KVM_EXIT_HLT);
  SET_NUM(exits, "MMIO", KVM_EXIT_MMIO);
  SET_NUM(exits, "IRQ_WINDOW_OPEN", KVM_EXIT_IRQ_WINDOW_OPEN);
  SET_NUM(exits, "SHUTDOWN", KVM_EXIT_SHUTDOWN);
  SET_NUM(exits, "FAIL_ENTRY", KVM_EXIT_FAIL_ENTRY);
  SET_NUM(exits, "INTR", KVM_EXIT_INTR);
  SET_NUM(exits, "INTERNAL_ERROR", KVM_EXIT_INTERNAL_ERROR);
  SET_NUM(exits, "SYSTEM_EVENT", KVM_EXIT_SYSTEM_EVENT);
  SET_NUM(exits, "IOAPIC_EOI", KVM_EXIT_IOAPIC_EOI);
  exports.Set("exitReasons", exits);

  Napi::Object sizes = Napi::Object::New(env);
  SET_NUM(sizes, "cpuidEntry2", sizeof(kvm_cpuid_entry2));
  SET_NUM(sizes, "msrEntry", sizeof(kvm_msr_entry));
  SET_NUM(sizes, "irqRoutingEntry", sizeof(kvm_irq_routing_entry));
  SET_NUM(sizes, "segment", sizeof(kvm_segment));
  exports.Set("structSizes", sizes);

  Napi::Object caps = Napi::Object::New(env);
  SET_NUM(caps, "IRQCHIP", KVM_CAP_IRQCHIP);
  SET_NUM(caps, "HLT", KVM_CAP_HLT);
  SET_NUM(caps, "USER_MEMORY", KVM_CAP_USER_MEMORY);
  SET_NUM(caps, "SET_TSS_ADDR", KVM_CAP_SET_TSS_ADDR);
  SET_NUM(caps, "EXT_CPUID", KVM_CAP_EXT_CPUID);
  SET_NUM(caps, "NR_VCPUS", KVM_CAP_NR_VCPUS);
  SET_NUM(caps, "MAX_VCPUS", KVM_CAP_MAX_VCPUS);
  SET_NUM(caps, "NR_MEMSLOTS", KVM_CAP_NR_MEMSLOTS);
  SET_NUM(caps, "PIT2", KVM_CAP_PIT2);
  SET_NUM(caps, "IRQ_ROUTING", KVM_CAP_IRQ_ROUTING);
  SET_NUM(caps, "IRQFD", KVM_CAP_IRQFD);
  SET_NUM(caps, "IRQFD_RESAMPLE", KVM_CAP_IRQFD_RESAMPLE);
  SET_NUM(caps, "IOEVENTFD", KVM_CAP_IOEVENTFD);
  SET_NUM(caps, "SIGNAL_MSI", KVM_CAP_SIGNAL_MSI);
  SET_NUM(caps, "XSAVE", KVM_CAP_XSAVE);
  SET_NUM(caps, "XCRS", KVM_CAP_XCRS);
  SET_NUM(caps, "IMMEDIATE_EXIT", KVM_CAP_IMMEDIATE_EXIT);
  SET_NUM(caps, "SET_IDENTITY_MAP_ADDR", KVM_CAP_SET_IDENTITY_MAP_ADDR);
  SET_NUM(caps, "TSC_DEADLINE_TIMER", KVM_CAP_TSC_DEADLINE_TIMER);
  exports.Set("capabilities", caps);

  Napi::Object flags = Napi::Object::New(env);
  SET_NUM(flags, "IOEVENTFD_DATAMATCH", KVM_IOEVENTFD_FLAG_DATAMATCH);
  SET_NUM(flags, "IOEVENTFD_PIO", KVM_IOEVENTFD_FLAG_PIO);
  SET_NUM(flags, "IOEVENTFD_DEASSIGN", KVM_IOEVENTFD_FLAG_DEASSIGN);
  SET_NUM(flags, "IRQFD_DEASSIGN", KVM_IRQFD_FLAG_DEASSIGN);
  SET_NUM(flags, "IRQFD_RESAMPLE", KVM_IRQFD_FLAG_RESAMPLE);
  SET_NUM(flags, "PIT_SPEAKER_DUMMY", KVM_PIT_SPEAKER_DUMMY);
  SET_NUM(flags, "MEM_READONLY", KVM_MEM_READONLY);
  SET_NUM(flags, "MEM_LOG_DIRTY_PAGES", KVM_MEM_LOG_DIRTY_PAGES);
  SET_NUM(flags, "IRQ_ROUTING_IRQCHIP", KVM_IRQ_ROUTING_IRQCHIP);
  SET_NUM(flags, "IRQ_ROUTING_MSI", KVM_IRQ_ROUTING_MSI);
  SET_NUM(flags, "SYSTEM_EVENT_SHUTDOWN", KVM_SYSTEM_EVENT_SHUTDOWN);
  SET_NUM(flags, "SYSTEM_EVENT_RESET", KVM_SYSTEM_EVENT_RESET);
  SET_NUM(flags, "SYSTEM_EVENT_CRASH", KVM_SYSTEM_EVENT_CRASH);
  exports.Set("flags", flags);
}

}  // namespace tsvisor
