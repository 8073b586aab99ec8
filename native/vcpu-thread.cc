// A native thread that runs one vCPU (KVM SMP: vCPUs 1..N-1; vCPU 0 stays on
// the machine worker). A vCPU halted in KVM_RUN blocks there until an
// interrupt, so every vCPU needs a thread of its own.
//
// The thread only loops on KVM_RUN. Every exit it cannot ignore (port or MMIO
// access, shutdown, system event, an error) is handed to the machine thread,
// which owns every device: the thread records the exit reason, kicks vCPU 0
// (`notifyFd`) out of its KVM_RUN so the machine thread looks at once, and
// sleeps until the machine thread has served the exit through its own mapping
// of this vCPU's kvm_run page (same page, so I/O data lands where KVM reads
// it) and calls complete(). No JavaScript runs here: the thread costs no V8
// isolate, and the exit protocol stays one mutex and one condition variable.
//
// park() stops the thread outside KVM_RUN (QMP stop, reading registers,
// which KVM serialises with KVM_RUN), release() lets it run, stop() joins it.
#include "common.h"
#include "run-slot.h"
#include <sys/syscall.h>
#include <unistd.h>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace tsvisor {

namespace {

enum class Command { kPark, kRun, kQuit };
enum class State { kStarting, kParked, kRunning, kExitPending, kGone };

// Exit codes handed to JavaScript: a kvm_run exit reason (>= 0), nothing
// pending (-1), or KVM_RUN failing with errno e (-(kRunFailed + e)).
constexpr int kNothingPending = -1;
constexpr int kRunFailed = 1000;

struct VcpuThread {
  int fd = -1;
  std::shared_ptr<RunSlot> slot;
  // vCPU 0's slot: kicking it brings the machine thread back from KVM_RUN.
  std::shared_ptr<RunSlot> machine_slot;
  std::mutex m;
  std::condition_variable cv;
  Command command = Command::kPark;
  State state = State::kStarting;
  int exit_code = kNothingPending;
  pid_t tid = 0;
  bool joined = false;
  std::thread thread;

  void Run() {
    BlockSignalsButKickOnThisThread();
    std::unique_lock<std::mutex> lock(m);
    tid = static_cast<pid_t>(syscall(SYS_gettid));
    for (;;) {
      if (command == Command::kQuit) break;
      if (command == Command::kPark) {
        state = State::kParked;
        cv.notify_all();
        cv.wait(lock, [this] { return command != Command::kPark; });
        continue;
      }
      state = State::kRunning;
      lock.unlock();
      int err = 0;
      bool foreign = false;
      int r = RunOnSlot(fd, *slot, &err, &foreign);
      if (r < 0 && err == EINTR) {
        // A kick: immediate_exit stays set until cleared, and the command is
        // re-read under the lock, so a park that raced with this is seen.
        __atomic_store_n(&slot->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
        lock.lock();
        continue;
      }
      if (r < 0 && err == EAGAIN) {
        // An AP waiting for INIT/SIPI was woken (KVM returns EAGAIN then, as
        // QEMU knows): enter again, now running or still waiting for SIPI.
        lock.lock();
        continue;
      }
      int code = r < 0 ? -(kRunFailed + err) : static_cast<int>(slot->run->exit_reason);
      lock.lock();
      exit_code = code;
      state = State::kExitPending;
      cv.notify_all();
      lock.unlock();
      if (machine_slot) NotifySlot(*machine_slot);
      lock.lock();
      cv.wait(lock, [this] { return state != State::kExitPending || command == Command::kQuit; });
    }
    state = State::kGone;
    cv.notify_all();
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(m);
      if (joined) return;
      joined = true;
      command = Command::kQuit;
    }
    cv.notify_all();
    KickSlot(*slot);
    thread.join();
  }
};

void Finalize(Napi::Env, VcpuThread* t) {
  t->Stop();
  delete t;
}

VcpuThread* Unwrap(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsExternal()) ThrowType(info.Env(), "vCPU thread handle expected");
  return info[0].As<Napi::External<VcpuThread>>().Data();
}

}  // namespace

// (vcpuFd, notifyFd) -> handle. Both fds must be registered vCPUs
// (registerVcpu). The thread starts parked; its TID is known on return.
static Napi::Value VcpuThreadStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0, "vcpuFd");
  int notify_fd = ArgInt(info, 1, "notifyFd");
  std::shared_ptr<RunSlot> slot = FindRunSlot(fd);
  std::shared_ptr<RunSlot> machine_slot = FindRunSlot(notify_fd);
  if (!slot || !machine_slot) ThrowType(env, "vcpuThreadStart: vCPU fd is not registered (registerVcpu first)");
  auto* t = new VcpuThread();
  t->fd = fd;
  t->slot = std::move(slot);
  t->machine_slot = std::move(machine_slot);
  try {
    t->thread = std::thread([t] { t->Run(); });
  } catch (const std::system_error& e) {
    delete t;
    ThrowErrno(env, "vcpuThreadStart: std::thread", e.code().value());
  }
  {
    std::unique_lock<std::mutex> lock(t->m);
    t->cv.wait(lock, [t] { return t->state != State::kStarting; });
  }
  return Napi::External<VcpuThread>::New(env, t, Finalize);
}

static Napi::Value VcpuThreadTid(const Napi::CallbackInfo& info) {
  VcpuThread* t = Unwrap(info);
  std::lock_guard<std::mutex> lock(t->m);
  return Napi::Number::New(info.Env(), t->tid);
}

// (handle): let a parked thread run guest code.
static Napi::Value VcpuThreadRelease(const Napi::CallbackInfo& info) {
  VcpuThread* t = Unwrap(info);
  {
    std::lock_guard<std::mutex> lock(t->m);
    if (t->command == Command::kPark) t->command = Command::kRun;
  }
  t->cv.notify_all();
  return info.Env().Undefined();
}

// (handle): ask the thread to stop outside KVM_RUN; waitParked() says when it has.
static Napi::Value VcpuThreadPark(const Napi::CallbackInfo& info) {
  VcpuThread* t = Unwrap(info);
  {
    std::lock_guard<std::mutex> lock(t->m);
    if (t->command == Command::kRun) t->command = Command::kPark;
  }
  KickSlot(*t->slot);
  return info.Env().Undefined();
}

// (handle, timeoutMs) -> true once parked, false on timeout or when an exit
// is pending (the caller serves it and waits again: a thread waiting for its
// exit to be served cannot park).
static Napi::Value VcpuThreadWaitParked(const Napi::CallbackInfo& info) {
  VcpuThread* t = Unwrap(info);
  int timeout = ArgInt(info, 1, "timeoutMs");
  std::unique_lock<std::mutex> lock(t->m);
  t->cv.wait_for(lock, std::chrono::milliseconds(timeout), [t] {
    return t->state == State::kParked || t->state == State::kExitPending || t->state == State::kGone;
  });
  return Napi::Boolean::New(info.Env(), t->state == State::kParked || t->state == State::kGone);
}

// (handle) -> the pending exit's code (see kNothingPending, kRunFailed), without consuming it.
static Napi::Value VcpuThreadPendingExit(const Napi::CallbackInfo& info) {
  VcpuThread* t = Unwrap(info);
  std::lock_guard<std::mutex> lock(t->m);
  return Napi::Number::New(info.Env(), t->state == State::kExitPending ? t->exit_code : kNothingPending);
}

// (handle): the pending exit is served (I/O data written into kvm_run); the thread goes on.
static Napi::Value VcpuThreadComplete(const Napi::CallbackInfo& info) {
  VcpuThread* t = Unwrap(info);
  {
    std::lock_guard<std::mutex> lock(t->m);
    if (t->state == State::kExitPending) {
      t->state = State::kRunning;
      t->exit_code = kNothingPending;
    }
  }
  t->cv.notify_all();
  return info.Env().Undefined();
}

// (handle): ends and joins the thread; idempotent. Before the vCPU fd closes.
static Napi::Value VcpuThreadStop(const Napi::CallbackInfo& info) {
  Unwrap(info)->Stop();
  return info.Env().Undefined();
}

void RegisterVcpuThread(Napi::Env env, Napi::Object exports) {
  exports.Set("vcpuThreadStart", Napi::Function::New(env, VcpuThreadStart));
  exports.Set("vcpuThreadTid", Napi::Function::New(env, VcpuThreadTid));
  exports.Set("vcpuThreadRelease", Napi::Function::New(env, VcpuThreadRelease));
  exports.Set("vcpuThreadPark", Napi::Function::New(env, VcpuThreadPark));
  exports.Set("vcpuThreadWaitParked", Napi::Function::New(env, VcpuThreadWaitParked));
  exports.Set("vcpuThreadPendingExit", Napi::Function::New(env, VcpuThreadPendingExit));
  exports.Set("vcpuThreadComplete", Napi::Function::New(env, VcpuThreadComplete));
  exports.Set("vcpuThreadStop", Napi::Function::New(env, VcpuThreadStop));
  exports.Set("vcpuThreadRunFailed", Napi::Number::New(env, kRunFailed));
}

}  // namespace tsvisor
