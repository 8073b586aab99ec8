// The calling thread's kernel id. Node exposes the pid and its own worker
// numbering, but not the TID, which is what libvirt (query-cpus-fast
// thread-id) uses to pin vCPU threads with sched_setaffinity.
#include "common.h"
#include <sys/syscall.h>
#include <unistd.h>

namespace tsvisor {

static Napi::Value GetTid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(syscall(SYS_gettid)));
}

void RegisterThread(Napi::Env env, Napi::Object exports) {
  exports.Set("gettid", Napi::Function::New(env, GetTid));
}

}  // namespace tsvisor
