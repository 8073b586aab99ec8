// eventfd helpers: irqfd/ioeventfd need them, and the event loop polls them.
#include "common.h"
#include <sys/eventfd.h>
#include <unistd.h>
#include <cerrno>

namespace tsvisor {

// (initialValue, flags): flags bit 0 = non-blocking, bit 1 = semaphore. Always close-on-exec.
static Napi::Value EventfdCreate(const Napi::CallbackInfo& info) {
  uint32_t init = info.Length() > 0 ? ArgU32(info, 0, "initialValue") : 0;
  uint32_t bits = info.Length() > 1 ? ArgU32(info, 1, "flags") : 0;
  int flags = EFD_CLOEXEC | ((bits & 1) ? EFD_NONBLOCK : 0) | ((bits & 2) ? EFD_SEMAPHORE : 0);
  int fd = eventfd(init, flags);
  if (fd < 0) ThrowErrno(info.Env(), "eventfd", errno);
  return Napi::Number::New(info.Env(), fd);
}

// Returns the counter as a BigInt, or null when a non-blocking eventfd is at zero.
static Napi::Value EventfdRead(const Napi::CallbackInfo& info) {
  uint64_t value = 0;
  ssize_t n = read(ArgInt(info, 0, "fd"), &value, sizeof(value));
  if (n < 0) {
    if (errno == EAGAIN) return info.Env().Null();
    ThrowErrno(info.Env(), "eventfd read", errno);
  }
  return Napi::BigInt::New(info.Env(), value);
}

static Napi::Value EventfdWrite(const Napi::CallbackInfo& info) {
  uint64_t value = info.Length() > 1 ? ArgU64(info, 1, "value") : 1;
  if (write(ArgInt(info, 0, "fd"), &value, sizeof(value)) < 0) ThrowErrno(info.Env(), "eventfd write", errno);
  return info.Env().Undefined();
}

void RegisterEventfd(Napi::Env env, Napi::Object exports) {
  exports.Set("eventfdCreate", Napi::Function::New(env, EventfdCreate));
  exports.Set("eventfdRead", Napi::Function::New(env, EventfdRead));
  exports.Set("eventfdWrite", Napi::Function::New(env, EventfdWrite));
}

}  // namespace tsvisor
