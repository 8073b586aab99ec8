// vCPU ioctls: creation, KVM_RUN (the hot path), register state, CPUID, MSRs,
// interrupt injection, and kicking a vCPU out of KVM_RUN from another thread.
//
// Kicking: a process-wide registry, keyed by vCPU fd, holds the registry's own
// mapping of that vCPU's kvm_run page and the thread currently inside KVM_RUN.
// kick() sets kvm_run->immediate_exit (covers a thread about to enter
// KVM_RUN) and sends that thread a real-time signal whose handler does
// nothing and is installed without SA_RESTART, so KVM_RUN returns EINTR.
#include "common.h"
#include "kvm_abi.h"
#include "mapping.h"
#include "run-slot.h"
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace tsvisor {

namespace {

// Run()'s answer when only vCPU threads interrupted KVM_RUN (no KVM exit
// reason is this large): their exits wait on the machine thread.
constexpr int kRunThreadExits = 0x10000;

// SIGUSR1 belongs to Node's inspector, SIGPROF to its profiler; glibc keeps
// the first real-time signals for itself (SIGRTMIN is already past them).
int KickSignal() { return SIGRTMIN + 4; }

std::mutex g_mutex;
std::map<int, std::shared_ptr<RunSlot>> g_slots;

void NoopHandler(int) {}

void InstallKickHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = NoopHandler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must come back with EINTR
    sigaction(KickSignal(), &sa, nullptr);
  });
}

// Worker threads may start with signals blocked; make sure ours gets through.
void UnblockKickSignalOnThisThread() {
  thread_local bool done = false;
  if (done) return;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, KickSignal());
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  done = true;
}

}  // namespace

static Napi::Value CreateVcpu(const Napi::CallbackInfo& info) {
  int r = ioctl(ArgInt(info, 0, "vmFd"), KVM_CREATE_VCPU, static_cast<unsigned long>(ArgU32(info, 1, "id")));
  if (r < 0) ThrowErrno(info.Env(), "KVM_CREATE_VCPU", errno);
  return Napi::Number::New(info.Env(), r);
}

// (vcpuFd, mmapSize): makes the vCPU runnable and kickable.
static Napi::Value RegisterVcpuFd(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "vcpuFd");
  size_t size = ArgU32(info, 1, "mmapSize");
  InstallKickHandler();
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) ThrowErrno(info.Env(), "mmap kvm_run", errno);
  auto slot = std::make_shared<RunSlot>(static_cast<kvm_run*>(p), size);
  std::lock_guard<std::mutex> lock(g_mutex);
  g_slots[fd] = slot;
  return info.Env().Undefined();
}

static Napi::Value UnregisterVcpuFd(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "vcpuFd");
  // A run still in flight holds its own reference, so the page stays mapped
  // until it returns.
  std::lock_guard<std::mutex> lock(g_mutex);
  g_slots.erase(fd);
  return info.Env().Undefined();
}

// The kvm_run page as an ArrayBuffer for TypeScript to decode exits from and
// write I/O data into. A separate mapping of the same page as the registry's.
static Napi::Value MapRun(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "vcpuFd");
  size_t size = ArgU32(info, 1, "mmapSize");
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) ThrowErrno(info.Env(), "mmap kvm_run", errno);
  return AdoptMapping(info.Env(), p, size);
}

// KVM_RUN. Returns the exit reason; KVM_EXIT_INTR when a signal (a kick)
// interrupted it. Allocates nothing: small integers are V8 Smis.
static Napi::Value Run(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  std::shared_ptr<RunSlot> slot = FindRunSlot(fd);
  if (!slot) ThrowType(info.Env(), "run: vCPU fd is not registered (registerVcpu first)");
  int err = 0;
  bool foreign = false;
  int r = RunOnSlot(fd, *slot, &err, &foreign);
  if (r < 0) {
    // Only vCPU threads asked: serve them and enter again, no event-loop turn needed.
    if (err == EINTR && !foreign) return Napi::Number::New(info.Env(), kRunThreadExits);
    // EAGAIN: a vCPU waiting for INIT/SIPI was woken; the caller just enters again.
    if (err == EINTR || err == EAGAIN) return Napi::Number::New(info.Env(), KVM_EXIT_INTR);
    ThrowErrno(info.Env(), "KVM_RUN", err);
  }
  return Napi::Number::New(info.Env(), slot->run->exit_reason);
}

RunSlot::~RunSlot() { munmap(run, mmap_size); }

std::shared_ptr<RunSlot> FindRunSlot(int fd) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_slots.find(fd);
  return it == g_slots.end() ? nullptr : it->second;
}

int RunOnSlot(int fd, RunSlot& slot, int* err, bool* foreign) {
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    // The caller may have cleared immediate_exit after a kick it has not seen yet.
    if (slot.foreign_kick) {
      slot.foreign_kick = false;
      *foreign = true;
      *err = EINTR;
      return -1;
    }
    slot.thread = pthread_self();
    slot.in_run = true;
  }
  UnblockKickSignalOnThisThread();
  int r = ioctl(fd, KVM_RUN, 0);
  *err = errno;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    slot.in_run = false;
    *foreign = slot.foreign_kick;
    if (r < 0 && *err == EINTR) slot.foreign_kick = false;
  }
  return r;
}

void BlockSignalsButKickOnThisThread() {
  sigset_t set;
  sigfillset(&set);
  sigdelset(&set, KickSignal());
  pthread_sigmask(SIG_SETMASK, &set, nullptr);
}

static void InterruptSlot(RunSlot& slot, bool foreign) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (foreign) slot.foreign_kick = true;
  __atomic_store_n(&slot.run->immediate_exit, 1, __ATOMIC_SEQ_CST);
  if (slot.in_run) pthread_kill(slot.thread, KickSignal());
}

void KickSlot(RunSlot& slot) { InterruptSlot(slot, true); }
void NotifySlot(RunSlot& slot) { InterruptSlot(slot, false); }

bool KickVcpuFd(int fd) {
  std::shared_ptr<RunSlot> slot = FindRunSlot(fd);
  if (!slot) return false;
  KickSlot(*slot);
  return true;
}

// Callable from any thread. Returns false when the fd is not a registered vCPU.
static Napi::Value Kick(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), KickVcpuFd(ArgInt(info, 0, "vcpuFd")));
}

// Fixed-size vCPU state, read and written as raw kernel structs that
// TypeScript decodes. The index is the `kind` argument.
struct StateIoctl {
  const char* name;
  unsigned long get;
  const char* get_name;
  unsigned long set;
  const char* set_name;
  size_t size;
};

static const StateIoctl kStates[] = {
    {"regs", KVM_GET_REGS, "KVM_GET_REGS", KVM_SET_REGS, "KVM_SET_REGS", sizeof(kvm_regs)},
    {"sregs", KVM_GET_SREGS, "KVM_GET_SREGS", KVM_SET_SREGS, "KVM_SET_SREGS", sizeof(kvm_sregs)},
    {"fpu", KVM_GET_FPU, "KVM_GET_FPU", KVM_SET_FPU, "KVM_SET_FPU", sizeof(kvm_fpu)},
    {"xsave", tsvisor_ioctl_get_xsave, "KVM_GET_XSAVE", tsvisor_ioctl_set_xsave, "KVM_SET_XSAVE", tsvisor_sizeof_kvm_xsave},
    {"lapic", KVM_GET_LAPIC, "KVM_GET_LAPIC", KVM_SET_LAPIC, "KVM_SET_LAPIC", sizeof(kvm_lapic_state)},
    {"mpState", KVM_GET_MP_STATE, "KVM_GET_MP_STATE", KVM_SET_MP_STATE, "KVM_SET_MP_STATE", sizeof(kvm_mp_state)},
    {"vcpuEvents", KVM_GET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS", KVM_SET_VCPU_EVENTS, "KVM_SET_VCPU_EVENTS", sizeof(kvm_vcpu_events)},
    {"debugRegs", KVM_GET_DEBUGREGS, "KVM_GET_DEBUGREGS", KVM_SET_DEBUGREGS, "KVM_SET_DEBUGREGS", sizeof(kvm_debugregs)},
    {"xcrs", KVM_GET_XCRS, "KVM_GET_XCRS", KVM_SET_XCRS, "KVM_SET_XCRS", sizeof(kvm_xcrs)},
};
static constexpr size_t kStateCount = sizeof(kStates) / sizeof(kStates[0]);

static const StateIoctl& StateArg(const Napi::CallbackInfo& info, Bytes* buf) {
  uint32_t kind = ArgU32(info, 1, "kind");
  if (kind >= kStateCount) ThrowType(info.Env(), "unknown vCPU state kind");
  *buf = ArgBytes(info, 2, "buffer");
  if (buf->length != kStates[kind].size) {
    ThrowType(info.Env(), std::string(kStates[kind].name) + " buffer must be " + std::to_string(kStates[kind].size) + " bytes");
  }
  return kStates[kind];
}

static Napi::Value GetState(const Napi::CallbackInfo& info) {
  Bytes buf{};
  const StateIoctl& s = StateArg(info, &buf);
  if (ioctl(ArgInt(info, 0, "vcpuFd"), s.get, buf.data) < 0) ThrowErrno(info.Env(), s.get_name, errno);
  return info.Env().Undefined();
}

static Napi::Value SetState(const Napi::CallbackInfo& info) {
  Bytes buf{};
  const StateIoctl& s = StateArg(info, &buf);
  if (ioctl(ArgInt(info, 0, "vcpuFd"), s.set, buf.data) < 0) ThrowErrno(info.Env(), s.set_name, errno);
  return info.Env().Undefined();
}

// (vcpuFd, entries): raw kvm_cpuid_entry2 structs; the header is added here.
static Napi::Value SetCpuid(const Napi::CallbackInfo& info) {
  Bytes entries = ArgBytes(info, 1, "entries");
  if (entries.length % sizeof(kvm_cpuid_entry2) != 0) ThrowType(info.Env(), "CPUID entries have the wrong size");
  std::vector<uint8_t> buf(tsvisor_sizeof_kvm_cpuid2 + entries.length);
  auto* cpuid = reinterpret_cast<kvm_cpuid2*>(buf.data());
  cpuid->nent = entries.length / sizeof(kvm_cpuid_entry2);
  memcpy(buf.data() + tsvisor_sizeof_kvm_cpuid2, entries.data, entries.length);
  if (ioctl(ArgInt(info, 0, "vcpuFd"), tsvisor_ioctl_set_cpuid2, cpuid) < 0) ThrowErrno(info.Env(), "KVM_SET_CPUID2", errno);
  return info.Env().Undefined();
}

// (vcpuFd, entries, write): entries are kvm_msr_entry structs (index, data);
// reads fill in data. Returns how many MSRs KVM processed (it stops at the
// first one it refuses).
static Napi::Value MsrAccess(const Napi::CallbackInfo& info, bool write) {
  Bytes entries = ArgBytes(info, 1, "entries");
  if (entries.length % sizeof(kvm_msr_entry) != 0) ThrowType(info.Env(), "MSR entries have the wrong size");
  std::vector<uint8_t> buf(tsvisor_sizeof_kvm_msrs + entries.length);
  auto* msrs = reinterpret_cast<kvm_msrs*>(buf.data());
  msrs->nmsrs = entries.length / sizeof(kvm_msr_entry);
  uint8_t* payload = buf.data() + tsvisor_sizeof_kvm_msrs;
  memcpy(payload, entries.data, entries.length);
  int r = ioctl(ArgInt(info, 0, "vcpuFd"), write ? tsvisor_ioctl_set_msrs : tsvisor_ioctl_get_msrs, msrs);
  if (r < 0) ThrowErrno(info.Env(), write ? "KVM_SET_MSRS" : "KVM_GET_MSRS", errno);
  if (!write) memcpy(entries.data, payload, entries.length);
  return Napi::Number::New(info.Env(), r);
}

static Napi::Value GetMsrs(const Napi::CallbackInfo& info) { return MsrAccess(info, false); }
static Napi::Value SetMsrs(const Napi::CallbackInfo& info) { return MsrAccess(info, true); }

// Only for VMs without the in-kernel irqchip.
static Napi::Value Interrupt(const Napi::CallbackInfo& info) {
  kvm_interrupt irq{};
  irq.irq = ArgU32(info, 1, "vector");
  if (ioctl(ArgInt(info, 0, "vcpuFd"), KVM_INTERRUPT, &irq) < 0) ThrowErrno(info.Env(), "KVM_INTERRUPT", errno);
  return info.Env().Undefined();
}

void RegisterVcpu(Napi::Env env, Napi::Object exports) {
  exports.Set("createVcpu", Napi::Function::New(env, CreateVcpu));
  exports.Set("registerVcpu", Napi::Function::New(env, RegisterVcpuFd));
  exports.Set("unregisterVcpu", Napi::Function::New(env, UnregisterVcpuFd));
  exports.Set("mapRun", Napi::Function::New(env, MapRun));
  exports.Set("run", Napi::Function::New(env, Run));
  exports.Set("runThreadExits", Napi::Number::New(env, kRunThreadExits));
  exports.Set("kick", Napi::Function::New(env, Kick));
  exports.Set("getState", Napi::Function::New(env, GetState));
  exports.Set("setState", Napi::Function::New(env, SetState));
  exports.Set("setCpuid", Napi::Function::New(env, SetCpuid));
  exports.Set("getMsrs", Napi::Function::New(env, GetMsrs));
  exports.Set("setMsrs", Napi::Function::New(env, SetMsrs));
  exports.Set("interrupt", Napi::Function::New(env, Interrupt));
  Napi::Object kinds = Napi::Object::New(env);
  Napi::Object sizes = Napi::Object::New(env);
  for (size_t i = 0; i < kStateCount; i++) {
    kinds.Set(kStates[i].name, Napi::Number::New(env, static_cast<double>(i)));
    sizes.Set(kStates[i].name, Napi::Number::New(env, static_cast<double>(kStates[i].size)));
  }
  exports.Set("stateKinds", kinds);
  exports.Set("stateSizes", sizes);
}

}  // namespace tsvisor
