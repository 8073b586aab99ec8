// Thin KVM binding: ioctls, mmap, signals. No device logic lives here.
#include <napi.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

static Napi::Value ApiVersion(const Napi::CallbackInfo& info) {
  int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    Napi::Error::New(info.Env(), std::string("open /dev/kvm: ") + strerror(errno)).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  int v = ioctl(fd, KVM_GET_API_VERSION, 0);
  close(fd);
  return Napi::Number::New(info.Env(), v);
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("apiVersion", Napi::Function::New(env, ApiVersion));
  return exports;
}

NODE_API_MODULE(tsvisor_kvm, Init)
