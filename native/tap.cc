// TAP devices for virtio-net: open /dev/net/tun with TUNSETIFF, size the vnet
// header and set offloads. Node cannot issue these ioctls; the frames
// themselves are read and written by TypeScript with plain fs calls.
#include "common.h"
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

namespace tsvisor {

// (name, flags) -> { fd, name }: creates the interface or attaches to an existing one.
static Napi::Value TapOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString()) ThrowType(env, "tapOpen(name, flags): name must be a string");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  if (name.size() >= IFNAMSIZ) ThrowType(env, "tapOpen: interface name longer than 15 bytes");
  uint32_t flags = ArgU32(info, 1, "flags");
  // Non-blocking: a read blocked on an idle TAP would pin a libuv pool thread,
  // and libuv joins those threads at process exit, so the VMM could never exit.
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) ThrowErrno(env, "open /dev/net/tun", errno);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  ifr.ifr_flags = static_cast<short>(flags);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, "TUNSETIFF", err);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("name", Napi::String::New(env, ifr.ifr_name));
  return out;
}

static Napi::Value TapSetVnetHdrSz(const Napi::CallbackInfo& info) {
  int size = ArgInt(info, 1, "size");
  if (ioctl(ArgInt(info, 0, "fd"), TUNSETVNETHDRSZ, &size) < 0) ThrowErrno(info.Env(), "TUNSETVNETHDRSZ", errno);
  return info.Env().Undefined();
}

static Napi::Value TapSetOffload(const Napi::CallbackInfo& info) {
  unsigned long flags = ArgU32(info, 1, "flags");
  if (ioctl(ArgInt(info, 0, "fd"), TUNSETOFFLOAD, flags) < 0) ThrowErrno(info.Env(), "TUNSETOFFLOAD", errno);
  return info.Env().Undefined();
}

static Napi::Value TapGetFlags(const Napi::CallbackInfo& info) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  if (ioctl(ArgInt(info, 0, "fd"), TUNGETIFF, &ifr) < 0) ThrowErrno(info.Env(), "TUNGETIFF", errno);
  return Napi::Number::New(info.Env(), static_cast<uint16_t>(ifr.ifr_flags));
}

// (fd): O_NONBLOCK on an inherited TAP fd, for the same reason as in tapOpen.
static Napi::Value FdSetNonBlocking(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "fd");
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) ThrowErrno(info.Env(), "fcntl O_NONBLOCK", errno);
  return info.Env().Undefined();
}

void RegisterTap(Napi::Env env, Napi::Object exports) {
  exports.Set("tapOpen", Napi::Function::New(env, TapOpen));
  exports.Set("tapSetVnetHdrSz", Napi::Function::New(env, TapSetVnetHdrSz));
  exports.Set("tapSetOffload", Napi::Function::New(env, TapSetOffload));
  exports.Set("tapGetFlags", Napi::Function::New(env, TapGetFlags));
  exports.Set("fdSetNonBlocking", Napi::Function::New(env, FdSetNonBlocking));
}

}  // namespace tsvisor
