// Guest RAM: one anonymous mapping per region, mapped once and shared by KVM
// (KVM_SET_USER_MEMORY_REGION), devices and the software CPU.
#include "mapping.h"
#include <sys/mman.h>
#include <cerrno>

namespace tsvisor {

static Napi::Value MmapRam(const Napi::CallbackInfo& info) {
  uint64_t size = ArgU64(info, 0, "size");
  if (size == 0 || (size & 0xfff) != 0) ThrowType(info.Env(), "RAM size must be a non-zero multiple of 4096");
  // NORESERVE: a guest's RAM is committed as it touches it, not up front.
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) ThrowErrno(info.Env(), "mmap guest RAM", errno);
  // A forked helper (tap setup, a child process) must not inherit guest RAM.
  madvise(p, size, MADV_DONTFORK);
  return AdoptMapping(info.Env(), p, size);
}

// Another thread's (a vCPU Worker's) view of RAM mapped by mmapRam.
static Napi::Value AttachRam(const Napi::CallbackInfo& info) {
  return AttachMapping(info.Env(), ArgU64(info, 0, "address"));
}

// The host address of a buffer, to hand to attachRam in another thread.
static Napi::Value MappingAddress(const Napi::CallbackInfo& info) {
  Bytes b = ArgBytes(info, 0, "buffer");
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(b.data)));
}

static Napi::Value Release(const Napi::CallbackInfo& info) {
  ReleaseMapping(info.Env(), info.Length() > 0 ? info[0] : info.Env().Undefined());
  return info.Env().Undefined();
}

void RegisterMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("mmapRam", Napi::Function::New(env, MmapRam));
  exports.Set("attachRam", Napi::Function::New(env, AttachRam));
  exports.Set("mappingAddress", Napi::Function::New(env, MappingAddress));
  exports.Set("releaseMapping", Napi::Function::New(env, Release));
}

}  // namespace tsvisor
