// VM ioctls: creation, memory slots, the in-kernel interrupt controllers and
// PIT, interrupt injection, and the eventfd links (irqfd, ioeventfd) that let
// devices bypass vCPU exits.
#include "common.h"
#include "kvm_abi.h"
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <cerrno>
#include <cstring>
#include <vector>

namespace tsvisor {

static int VmIoctl(const Napi::Env& env, int fd, unsigned long req, const char* name, void* arg) {
  int r = ioctl(fd, req, arg);
  if (r < 0) ThrowErrno(env, name, errno);
  return r;
}

static Napi::Value CreateVm(const Napi::CallbackInfo& info) {
  int type = info.Length() > 1 ? ArgInt(info, 1, "type") : 0;
  int r = ioctl(ArgInt(info, 0, "kvmFd"), KVM_CREATE_VM, static_cast<unsigned long>(type));
  if (r < 0) ThrowErrno(info.Env(), "KVM_CREATE_VM", errno);
  return Napi::Number::New(info.Env(), r);
}

// (vmFd, slot, flags, guestAddress, ramBuffer|null). A null buffer (or size 0)
// deletes the slot.
static Napi::Value SetUserMemoryRegion(const Napi::CallbackInfo& info) {
  kvm_userspace_memory_region region{};
  region.slot = ArgU32(info, 1, "slot");
  region.flags = ArgU32(info, 2, "flags");
  region.guest_phys_addr = ArgU64(info, 3, "guestAddress");
  if (info.Length() > 4 && !info[4].IsNull() && !info[4].IsUndefined()) {
    Bytes b = ArgBytes(info, 4, "ram");
    region.memory_size = b.length;
    region.userspace_addr = reinterpret_cast<uintptr_t>(b.data);
  }
  VmIoctl(info.Env(), ArgInt(info, 0, "vmFd"), KVM_SET_USER_MEMORY_REGION, "KVM_SET_USER_MEMORY_REGION", &region);
  return info.Env().Undefined();
}

static Napi::Value SetTssAddr(const Napi::CallbackInfo& info) {
  int r = ioctl(ArgInt(info, 0, "vmFd"), KVM_SET_TSS_ADDR, static_cast<unsigned long>(ArgU64(info, 1, "address")));
  if (r < 0) ThrowErrno(info.Env(), "KVM_SET_TSS_ADDR", errno);
  return info.Env().Undefined();
}

static Napi::Value SetIdentityMapAddr(const Napi::CallbackInfo& info) {
  uint64_t address = ArgU64(info, 1, "address");
  VmIoctl(info.Env(), ArgInt(info, 0, "vmFd"), KVM_SET_IDENTITY_MAP_ADDR, "KVM_SET_IDENTITY_MAP_ADDR", &address);
  return info.Env().Undefined();
}

static Napi::Value CreateIrqchip(const Napi::CallbackInfo& info) {
  int r = ioctl(ArgInt(info, 0, "vmFd"), KVM_CREATE_IRQCHIP, 0);
  if (r < 0) ThrowErrno(info.Env(), "KVM_CREATE_IRQCHIP", errno);
  return info.Env().Undefined();
}

static Napi::Value CreatePit2(const Napi::CallbackInfo& info) {
  kvm_pit_config config{};
  config.flags = info.Length() > 1 ? ArgU32(info, 1, "flags") : 0;
  VmIoctl(info.Env(), ArgInt(info, 0, "vmFd"), KVM_CREATE_PIT2, "KVM_CREATE_PIT2", &config);
  return info.Env().Undefined();
}

static Napi::Value IrqLine(const Napi::CallbackInfo& info) {
  kvm_irq_level level{};
  level.irq = ArgU32(info, 1, "gsi");
  level.level = ArgU32(info, 2, "level");
  VmIoctl(info.Env(), ArgInt(info, 0, "vmFd"), KVM_IRQ_LINE, "KVM_IRQ_LINE", &level);
  return info.Env().Undefined();
}

// (vmFd, addressLo, addressHi, data, flags, devid) -> >0 delivered, 0 blocked by the guest.
static Napi::Value SignalMsi(const Napi::CallbackInfo& info) {
  kvm_msi msi{};
  msi.address_lo = ArgU32(info, 1, "addressLo");
  msi.address_hi = ArgU32(info, 2, "addressHi");
  msi.data = ArgU32(info, 3, "data");
  msi.flags = info.Length() > 4 ? ArgU32(info, 4, "flags") : 0;
  msi.devid = info.Length() > 5 ? ArgU32(info, 5, "devid") : 0;
  int r = VmIoctl(info.Env(), ArgInt(info, 0, "vmFd"), KVM_SIGNAL_MSI, "KVM_SIGNAL_MSI", &msi);
  return Napi::Number::New(info.Env(), r);
}

// (vmFd, entries): entries are raw kvm_irq_routing_entry structs encoded by
// TypeScript; the header is added here.
static Napi::Value SetGsiRouting(const Napi::CallbackInfo& info) {
  Bytes entries = ArgBytes(info, 1, "entries");
  if (entries.length % sizeof(kvm_irq_routing_entry) != 0) ThrowType(info.Env(), "routing entries have the wrong size");
  std::vector<uint8_t> buf(tsvisor_sizeof_kvm_irq_routing + entries.length);
  auto* routing = reinterpret_cast<kvm_irq_routing*>(buf.data());
  routing->nr = entries.length / sizeof(kvm_irq_routing_entry);
  routing->flags = 0;
  memcpy(buf.data() + tsvisor_sizeof_kvm_irq_routing, entries.data, entries.length);
  VmIoctl(info.Env(), ArgInt(info, 0, "vmFd"), tsvisor_ioctl_set_gsi_routing, "KVM_SET_GSI_ROUTING", routing);
  return info.Env().Undefined();
}

// (vmFd, eventFd, gsi, flags, resampleFd)
static Napi::Value Irqfd(const Napi::CallbackInfo& info) {
  kvm_irqfd irqfd{};
  irqfd.fd = ArgU32(info, 1, "eventFd");
  irqfd.gsi = ArgU32(info, 2, "gsi");
  irqfd.flags = info.Length() > 3 ? ArgU32(info, 3, "flags") : 0;
  irqfd.resamplefd = info.Length() > 4 ? ArgU32(info, 4, "resampleFd") : 0;
  VmIoctl(info.Env(), ArgInt(info, 0, "vmFd"), KVM_IRQFD, "KVM_IRQFD", &irqfd);
  return info.Env().Undefined();
}

// (vmFd, eventFd, address, length, flags, datamatch)
static Napi::Value Ioeventfd(const Napi::CallbackInfo& info) {
  kvm_ioeventfd io{};
  io.fd = ArgInt(info, 1, "eventFd");
  io.addr = ArgU64(info, 2, "address");
  io.len = ArgU32(info, 3, "length");
  io.flags = info.Length() > 4 ? ArgU32(info, 4, "flags") : 0;
  io.datamatch = info.Length() > 5 ? ArgU64(info, 5, "datamatch") : 0;
  VmIoctl(info.Env(), ArgInt(info, 0, "vmFd"), KVM_IOEVENTFD, "KVM_IOEVENTFD", &io);
  return info.Env().Undefined();
}

void RegisterVm(Napi::Env env, Napi::Object exports) {
  exports.Set("createVm", Napi::Function::New(env, CreateVm));
  exports.Set("setUserMemoryRegion", Napi::Function::New(env, SetUserMemoryRegion));
  exports.Set("setTssAddr", Napi::Function::New(env, SetTssAddr));
  exports.Set("setIdentityMapAddr", Napi::Function::New(env, SetIdentityMapAddr));
  exports.Set("createIrqchip", Napi::Function::New(env, CreateIrqchip));
  exports.Set("createPit2", Napi::Function::New(env, CreatePit2));
  exports.Set("irqLine", Napi::Function::New(env, IrqLine));
  exports.Set("signalMsi", Napi::Function::New(env, SignalMsi));
  exports.Set("setGsiRouting", Napi::Function::New(env, SetGsiRouting));
  exports.Set("irqfd", Napi::Function::New(env, Irqfd));
  exports.Set("ioeventfd", Napi::Function::New(env, Ioeventfd));
}

}  // namespace tsvisor
