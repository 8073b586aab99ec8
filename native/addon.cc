// tsvisor's KVM binding: ioctls, mmap, eventfds and the kick signal, plus the
// few host calls Node lacks (OFD file locks, gettid, fd readiness). No device
// logic and no policy live here; see src/kvm/ for the TypeScript face.
//
// Context-aware (NODE_API_MODULE): it loads in worker threads too. The only
// global state is the mutex-protected mapping and vCPU registries. The native
// threads it starts (loop waker, vCPU threads) run no JavaScript.
#include "common.h"

static Napi::Object InitKvmAddon(Napi::Env env, Napi::Object exports) {
  tsvisor::RegisterSystem(env, exports);
  tsvisor::RegisterVm(env, exports);
  tsvisor::RegisterVcpu(env, exports);
  tsvisor::RegisterMemory(env, exports);
  tsvisor::RegisterEventfd(env, exports);
  tsvisor::RegisterLayout(env, exports);
  tsvisor::RegisterTap(env, exports);
  tsvisor::RegisterLoopWake(env, exports);
  tsvisor::RegisterFileLock(env, exports);
  tsvisor::RegisterThread(env, exports);
  tsvisor::RegisterFdWatch(env, exports);
  tsvisor::RegisterVcpuThread(env, exports);
  return exports;
}

NODE_API_MODULE(tsvisor_kvm, InitKvmAddon)
