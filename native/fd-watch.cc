// Readiness notification for fds Node cannot watch itself. A TAP fd is a
// character device, which libuv classifies as a file, so neither net.Socket
// nor fs streams can wait on it; fs.read on it either parks a pool thread
// (blocking fd) or fails with EAGAIN (non-blocking), which left TapBackend
// polling with a timer. A uv_poll handle on the calling thread's loop (the
// machine worker's) puts the fd in libuv's epoll set: an idle link costs
// nothing, a frame wakes the loop at once, and the LoopWaker (loop-wake.cc)
// sees that wake-up and brings a vCPU out of KVM_RUN for it.
#include "common.h"
#include <uv.h>

namespace tsvisor {

namespace {

// Freed once both the uv handle is closed and the JS handle is finalized,
// whichever comes last, so neither side touches freed memory.
struct FdWatch {
  uv_poll_t poll;
  napi_env env = nullptr;
  Napi::FunctionReference callback;
  bool started = false;
  bool closing = false;
  bool handle_closed = false;
  bool finalized = false;
};

void MaybeDelete(FdWatch* w) {
  if (w->handle_closed && w->finalized) delete w;
}

void OnClosed(uv_handle_t* h) {
  auto* w = static_cast<FdWatch*>(h->data);
  w->handle_closed = true;
  MaybeDelete(w);
}

void CloseWatch(FdWatch* w) {
  if (w->closing) return;
  w->closing = true;
  uv_poll_stop(&w->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnClosed);
}

// Runs on the loop's thread with no JS on the stack: enter JS through
// MakeCallback so microtasks run afterwards, and report a throw as an
// uncaught exception instead of losing it.
void OnPoll(uv_poll_t* h, int status, int /*events*/) {
  auto* w = static_cast<FdWatch*>(h->data);
  if (w->closing || w->callback.IsEmpty()) return;
  Napi::Env env(w->env);
  Napi::HandleScope scope(env);
  try {
    w->callback.MakeCallback(env.Global(), {Napi::Number::New(env, status)});
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env, e.Value());
  }
}

void Finalize(Napi::Env, FdWatch* w) {
  w->callback.Reset();
  w->finalized = true;
  CloseWatch(w);
  MaybeDelete(w);
}

FdWatch* Unwrap(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsExternal()) ThrowType(info.Env(), "fd watch handle expected");
  FdWatch* w = info[0].As<Napi::External<FdWatch>>().Data();
  return w;
}

}  // namespace

// (fd, callback(status)) -> handle. The callback runs on this thread's loop
// whenever the fd is readable while started (level-triggered: it keeps coming
// until the fd is drained or the watch stopped). The handle does not keep the
// loop alive on its own.
static Napi::Value FdWatchCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0, "fd");
  if (info.Length() < 2 || !info[1].IsFunction()) ThrowType(env, "fdWatchCreate(fd, callback): callback must be a function");
  uv_loop_s* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop) ThrowType(env, "fdWatchCreate: no event loop");
  auto* w = new FdWatch();
  int r = uv_poll_init(loop, &w->poll, fd);
  if (r < 0) {
    delete w;
    ThrowErrno(env, "uv_poll_init", -r);
  }
  w->poll.data = w;
  w->env = env;
  w->callback = Napi::Persistent(info[1].As<Napi::Function>());
  uv_unref(reinterpret_cast<uv_handle_t*>(&w->poll));
  return Napi::External<FdWatch>::New(env, w, Finalize);
}

static Napi::Value FdWatchStart(const Napi::CallbackInfo& info) {
  FdWatch* w = Unwrap(info);
  if (w->closing) ThrowType(info.Env(), "fdWatchStart: watch is closed");
  int r = uv_poll_start(&w->poll, UV_READABLE, OnPoll);
  if (r < 0) ThrowErrno(info.Env(), "uv_poll_start", -r);
  return info.Env().Undefined();
}

static Napi::Value FdWatchStop(const Napi::CallbackInfo& info) {
  FdWatch* w = Unwrap(info);
  if (!w->closing) uv_poll_stop(&w->poll);
  return info.Env().Undefined();
}

// Stops watching for good. Call before closing the fd: epoll must not keep
// watching a number the process may reuse.
static Napi::Value FdWatchClose(const Napi::CallbackInfo& info) {
  FdWatch* w = Unwrap(info);
  w->callback.Reset();
  CloseWatch(w);
  return info.Env().Undefined();
}

void RegisterFdWatch(Napi::Env env, Napi::Object exports) {
  exports.Set("fdWatchCreate", Napi::Function::New(env, FdWatchCreate));
  exports.Set("fdWatchStart", Napi::Function::New(env, FdWatchStart));
  exports.Set("fdWatchStop", Napi::Function::New(env, FdWatchStop));
  exports.Set("fdWatchClose", Napi::Function::New(env, FdWatchClose));
}

}  // namespace tsvisor
