// /dev/kvm system ioctls: the API version, capabilities and what the host
// CPU can offer a guest (CPUID entries, MSR indices).
#include "common.h"
#include "kvm_abi.h"
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <vector>

namespace tsvisor {

static Napi::Value OpenKvm(const Napi::CallbackInfo& info) {
  int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ENODEV || err == ENXIO) {
      ThrowErrnoHint(info.Env(), "open /dev/kvm", err,
                     "/dev/kvm is absent: the kvm module is not loaded, the CPU lacks VMX/SVM, "
                     "or nested virtualization is off in this VM");
    }
    if (err == EACCES || err == EPERM) {
      ThrowErrnoHint(info.Env(), "open /dev/kvm", err,
                     "not permitted to open /dev/kvm: add this user to the 'kvm' group "
                     "(usermod -aG kvm $USER, then log in again) or run as root");
    }
    ThrowErrno(info.Env(), "open /dev/kvm", err);
  }
  return Napi::Number::New(info.Env(), fd);
}

static Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "fd");
  if (close(fd) < 0) ThrowErrno(info.Env(), "close", errno);
  return info.Env().Undefined();
}

static Napi::Value ApiVersion(const Napi::CallbackInfo& info) {
  int r = ioctl(ArgInt(info, 0, "kvmFd"), KVM_GET_API_VERSION, 0);
  if (r < 0) ThrowErrno(info.Env(), "KVM_GET_API_VERSION", errno);
  return Napi::Number::New(info.Env(), r);
}

// Works on the system fd and on a VM fd (VM-specific answers).
static Napi::Value CheckExtension(const Napi::CallbackInfo& info) {
  int r = ioctl(ArgInt(info, 0, "fd"), KVM_CHECK_EXTENSION, ArgInt(info, 1, "capability"));
  if (r < 0) ThrowErrno(info.Env(), "KVM_CHECK_EXTENSION", errno);
  return Napi::Number::New(info.Env(), r);
}

static Napi::Value VcpuMmapSize(const Napi::CallbackInfo& info) {
  int r = ioctl(ArgInt(info, 0, "kvmFd"), KVM_GET_VCPU_MMAP_SIZE, 0);
  if (r < 0) ThrowErrno(info.Env(), "KVM_GET_VCPU_MMAP_SIZE", errno);
  return Napi::Number::New(info.Env(), r);
}

// Returns the raw kvm_cpuid_entry2 array (40 bytes each) as an ArrayBuffer;
// TypeScript decodes it. Grows the buffer while KVM answers E2BIG.
static Napi::Value SupportedCpuid(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "kvmFd");
  for (uint32_t n = 128; n <= 4096; n *= 2) {
    std::vector<uint8_t> buf(tsvisor_sizeof_kvm_cpuid2 + n * sizeof(kvm_cpuid_entry2));
    auto* c = reinterpret_cast<kvm_cpuid2*>(buf.data());
    c->nent = n;
    if (ioctl(fd, tsvisor_ioctl_get_supported_cpuid, c) == 0) {
      size_t bytes = c->nent * sizeof(kvm_cpuid_entry2);
      auto out = Napi::ArrayBuffer::New(info.Env(), bytes);
      memcpy(out.Data(), buf.data() + tsvisor_sizeof_kvm_cpuid2, bytes);
      return out;
    }
    if (errno != E2BIG) ThrowErrno(info.Env(), "KVM_GET_SUPPORTED_CPUID", errno);
  }
  ThrowErrno(info.Env(), "KVM_GET_SUPPORTED_CPUID", E2BIG);
}

// Returns the MSR indices KVM can save/restore as a Uint32Array.
static Napi::Value MsrIndexList(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "kvmFd");
  kvm_msr_list probe{};
  probe.nmsrs = 0;
  // The first call fails with E2BIG and reports how many indices there are.
  if (ioctl(fd, tsvisor_ioctl_get_msr_index_list, &probe) < 0 && errno != E2BIG) {
    ThrowErrno(info.Env(), "KVM_GET_MSR_INDEX_LIST", errno);
  }
  std::vector<uint8_t> buf(tsvisor_sizeof_kvm_msr_list + probe.nmsrs * sizeof(uint32_t));
  auto* list = reinterpret_cast<kvm_msr_list*>(buf.data());
  list->nmsrs = probe.nmsrs;
  if (ioctl(fd, tsvisor_ioctl_get_msr_index_list, list) < 0) ThrowErrno(info.Env(), "KVM_GET_MSR_INDEX_LIST", errno);
  auto out = Napi::Uint32Array::New(info.Env(), list->nmsrs);
  memcpy(out.Data(), buf.data() + tsvisor_sizeof_kvm_msr_list, list->nmsrs * sizeof(uint32_t));
  return out;
}

void RegisterSystem(Napi::Env env, Napi::Object exports) {
  exports.Set("openKvm", Napi::Function::New(env, OpenKvm));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
  exports.Set("apiVersion", Napi::Function::New(env, ApiVersion));
  exports.Set("checkExtension", Napi::Function::New(env, CheckExtension));
  exports.Set("vcpuMmapSize", Napi::Function::New(env, VcpuMmapSize));
  exports.Set("supportedCpuid", Napi::Function::New(env, SupportedCpuid));
  exports.Set("msrIndexList", Napi::Function::New(env, MsrIndexList));
}

}  // namespace tsvisor
