#include "mapping.h"
#include <sys/mman.h>
#include <map>
#include <mutex>

namespace tsvisor {

namespace {

struct Mapping {
  size_t length;
  int refs;
};

std::mutex g_mutex;
std::map<uintptr_t, Mapping> g_mappings;

// One per ArrayBuffer, attached to it with napi_wrap so release() finds it.
struct BufferRef {
  uintptr_t address;
  bool released;
};

void Unref(uintptr_t address) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_mappings.find(address);
  if (it == g_mappings.end()) return;
  if (--it->second.refs == 0) {
    munmap(reinterpret_cast<void*>(address), it->second.length);
    g_mappings.erase(it);
  }
}

void FinalizeBuffer(Napi::Env, void*, BufferRef* ref) {
  if (!ref->released) Unref(ref->address);
  delete ref;
}

Napi::ArrayBuffer Wrap(Napi::Env env, uintptr_t address, size_t length) {
  auto* ref = new BufferRef{address, false};
  auto ab = Napi::ArrayBuffer::New(env, reinterpret_cast<void*>(address), length, FinalizeBuffer, ref);
  napi_status st = napi_wrap(env, ab, ref, nullptr, nullptr, nullptr);
  NAPI_THROW_IF_FAILED(env, st, ab);
  return ab;
}

}  // namespace

Napi::ArrayBuffer AdoptMapping(Napi::Env env, void* address, size_t length) {
  uintptr_t a = reinterpret_cast<uintptr_t>(address);
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_mappings[a] = Mapping{length, 1};
  }
  return Wrap(env, a, length);
}

Napi::ArrayBuffer AttachMapping(Napi::Env env, uintptr_t address) {
  size_t length;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_mappings.find(address);
    if (it == g_mappings.end()) ThrowType(env, "no live mapping at that address");
    it->second.refs++;
    length = it->second.length;
  }
  return Wrap(env, address, length);
}

void ReleaseMapping(Napi::Env env, Napi::Value buffer) {
  if (!buffer.IsArrayBuffer()) ThrowType(env, "release needs an ArrayBuffer made by this addon");
  void* raw = nullptr;
  if (napi_unwrap(env, buffer, &raw) != napi_ok || raw == nullptr) {
    ThrowType(env, "release needs an ArrayBuffer made by this addon");
  }
  auto* ref = static_cast<BufferRef*>(raw);
  if (ref->released) return;
  ref->released = true;
  buffer.As<Napi::ArrayBuffer>().Detach();
  Unref(ref->address);
}

}  // namespace tsvisor
