// Wakes a vCPU sitting in KVM_RUN when the calling thread's event loop has
// work (an fs completion, a TAP frame, a message from the main thread) or a
// timer is due. The machine worker both runs KVM_RUN and owns the devices, so
// while the guest idles in the in-kernel HLT nobody would run those callbacks.
//
// A helper thread poll()s the loop's backend fd (libuv's epoll fd, readable
// whenever the loop has events ready) once per arm() and kicks the vCPU
// (immediate_exit + signal, as kick() does) when it becomes readable or the
// timeout passes. One kick per arm, so a loop that stays readable until the
// worker gets to it does not cause a storm of signals.
#include "common.h"
#include <uv.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace tsvisor {

namespace {

struct LoopWaker {
  int vcpu_fd = -1;
  int loop_fd = -1;
  int ctl_fd = -1;  // eventfd: interrupts a poll when disarmed or stopped
  std::mutex m;
  std::condition_variable cv;
  bool armed = false;
  bool stop = false;
  int timeout_ms = -1;
  uint64_t generation = 0;
  std::thread thread;

  void Run() {
    std::unique_lock<std::mutex> lock(m);
    for (;;) {
      cv.wait(lock, [this] { return armed || stop; });
      if (stop) return;
      int timeout = timeout_ms;
      uint64_t gen = generation;
      lock.unlock();
      pollfd fds[2] = {{loop_fd, POLLIN, 0}, {ctl_fd, POLLIN, 0}};
      int r = poll(fds, 2, timeout);
      if (r > 0 && (fds[1].revents & POLLIN)) {
        uint64_t v;
        ssize_t ignored = read(ctl_fd, &v, sizeof(v));
        (void)ignored;
      }
      lock.lock();
      if (stop) return;
      bool loop_ready = r > 0 && (fds[0].revents & (POLLIN | POLLERR | POLLHUP));
      if (armed && generation == gen && (r == 0 || loop_ready)) {
        armed = false;
        KickVcpuFd(vcpu_fd);
      }
    }
  }
};

void Finalize(Napi::Env, LoopWaker* w) {
  {
    std::lock_guard<std::mutex> lock(w->m);
    w->stop = true;
  }
  w->cv.notify_one();
  uint64_t one = 1;
  ssize_t ignored = write(w->ctl_fd, &one, sizeof(one));
  (void)ignored;
  if (w->thread.joinable()) w->thread.join();
  close(w->ctl_fd);
  delete w;
}

LoopWaker* Unwrap(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsExternal()) ThrowType(info.Env(), "loop waker handle expected");
  return info[0].As<Napi::External<LoopWaker>>().Data();
}

}  // namespace

// (vcpuFd) -> handle. Watches the event loop of the calling thread.
static Napi::Value LoopWakerCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int vcpu_fd = ArgInt(info, 0, "vcpuFd");
  uv_loop_s* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop) ThrowType(env, "loopWakerCreate: no event loop");
  int ctl = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (ctl < 0) ThrowErrno(env, "eventfd", errno);
  auto* w = new LoopWaker();
  w->vcpu_fd = vcpu_fd;
  w->loop_fd = uv_backend_fd(loop);
  w->ctl_fd = ctl;
  w->thread = std::thread([w] { w->Run(); });
  return Napi::External<LoopWaker>::New(env, w, Finalize);
}

// (handle, timeoutMs): kick the vCPU once the loop has work or after timeoutMs (-1: no timeout).
static Napi::Value LoopWakerArm(const Napi::CallbackInfo& info) {
  LoopWaker* w = Unwrap(info);
  int timeout = ArgInt(info, 1, "timeoutMs");
  {
    std::lock_guard<std::mutex> lock(w->m);
    w->armed = true;
    w->timeout_ms = timeout;
    w->generation++;
  }
  w->cv.notify_one();
  return info.Env().Undefined();
}

// (handle): the vCPU is back; a pending poll must not kick a later run.
static Napi::Value LoopWakerDisarm(const Napi::CallbackInfo& info) {
  LoopWaker* w = Unwrap(info);
  bool was_armed;
  {
    std::lock_guard<std::mutex> lock(w->m);
    was_armed = w->armed;
    w->armed = false;
    w->generation++;
  }
  if (was_armed) {
    uint64_t one = 1;
    ssize_t ignored = write(w->ctl_fd, &one, sizeof(one));
    (void)ignored;
  }
  return info.Env().Undefined();
}

void RegisterLoopWake(Napi::Env env, Napi::Object exports) {
  exports.Set("loopWakerCreate", Napi::Function::New(env, LoopWakerCreate));
  exports.Set("loopWakerArm", Napi::Function::New(env, LoopWakerArm));
  exports.Set("loopWakerDisarm", Napi::Function::New(env, LoopWakerDisarm));
}

}  // namespace tsvisor
