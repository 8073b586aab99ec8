// Open-file-description byte-range locks (fcntl F_OFD_SETLK / F_OFD_GETLK)
// for disk images. QEMU locks fixed bytes of an image this way to keep two
// VMMs from writing it at once; src/devices/virtio/blk/image-lock.ts lays out
// the same bytes so QEMU and tsvisor see each other. OFD locks belong to the
// open file description (not the process, unlike classic POSIX locks), so a
// second open of the same file in this process conflicts too, and the kernel
// drops them when the last fd of the description closes or the process dies.
#include "common.h"
#include <fcntl.h>
#include <cerrno>
#include <cstring>

namespace tsvisor {

static struct flock Range(const Napi::CallbackInfo& info, short type) {
  struct flock fl;
  memset(&fl, 0, sizeof(fl));
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = ArgInt(info, 1, "start");
  fl.l_len = ArgInt(info, 2, "length");
  return fl;  // l_pid must be 0 for OFD commands
}

// (fd, start, length, shared): take a shared (F_RDLCK) or exclusive (F_WRLCK)
// lock without waiting. Throws "F_OFD_SETLK: EAGAIN" on a conflicting lock.
static Napi::Value OfdLock(const Napi::CallbackInfo& info) {
  bool shared = info.Length() < 4 || info[3].ToBoolean().Value();
  struct flock fl = Range(info, shared ? F_RDLCK : F_WRLCK);
  if (fcntl(ArgInt(info, 0, "fd"), F_OFD_SETLK, &fl) < 0) ThrowErrno(info.Env(), "F_OFD_SETLK", errno);
  return info.Env().Undefined();
}

// (fd, start, length): drop whatever this open file description holds there.
static Napi::Value OfdUnlock(const Napi::CallbackInfo& info) {
  struct flock fl = Range(info, F_UNLCK);
  if (fcntl(ArgInt(info, 0, "fd"), F_OFD_SETLK, &fl) < 0) ThrowErrno(info.Env(), "F_OFD_SETLK", errno);
  return info.Env().Undefined();
}

// (fd, start, length, shared) -> true when another open file description holds
// a lock there that would conflict with taking this one (F_OFD_GETLK). Asking
// for an exclusive lock finds any holder, shared or not: what QEMU asks.
static Napi::Value OfdConflict(const Napi::CallbackInfo& info) {
  bool shared = info.Length() >= 4 && info[3].ToBoolean().Value();
  struct flock fl = Range(info, shared ? F_RDLCK : F_WRLCK);
  if (fcntl(ArgInt(info, 0, "fd"), F_OFD_GETLK, &fl) < 0) ThrowErrno(info.Env(), "F_OFD_GETLK", errno);
  return Napi::Boolean::New(info.Env(), fl.l_type != F_UNLCK);
}

void RegisterFileLock(Napi::Env env, Napi::Object exports) {
  exports.Set("ofdLock", Napi::Function::New(env, OfdLock));
  exports.Set("ofdUnlock", Napi::Function::New(env, OfdUnlock));
  exports.Set("ofdConflict", Napi::Function::New(env, OfdConflict));
}

}  // namespace tsvisor
