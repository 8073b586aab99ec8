// Shared helpers for the KVM addon: argument access and errno-carrying errors.
// The addon is deliberately thin: it issues ioctls, maps memory and delivers
// signals. Every decision about what to do with the results lives in TypeScript.
#pragma once
#include <napi.h>
#include <cstdint>
#include <string>

namespace tsvisor {

// Throws a JS Error "<op>: <ERRNO>" with .code = "<ERRNO>" and .errno = n.
[[noreturn]] void ThrowErrno(const Napi::Env& env, const char* op, int err);
// Same, with extra text after the errno name (used for /dev/kvm open hints).
[[noreturn]] void ThrowErrnoHint(const Napi::Env& env, const char* op, int err, const std::string& hint);
[[noreturn]] void ThrowType(const Napi::Env& env, const std::string& msg);

int ArgInt(const Napi::CallbackInfo& info, size_t i, const char* what);
uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* what);
// A guest address or 64-bit value given as a Number (exact below 2^53) or a BigInt.
uint64_t ArgU64(const Napi::CallbackInfo& info, size_t i, const char* what);
// The bytes behind an ArrayBuffer or any typed array / DataView argument.
struct Bytes {
  uint8_t* data;
  size_t length;
};
Bytes ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* what);

void RegisterSystem(Napi::Env env, Napi::Object exports);
void RegisterVm(Napi::Env env, Napi::Object exports);
void RegisterVcpu(Napi::Env env, Napi::Object exports);
void RegisterMemory(Napi::Env env, Napi::Object exports);
void RegisterEventfd(Napi::Env env, Napi::Object exports);
void RegisterLayout(Napi::Env env, Napi::Object exports);
void RegisterTap(Napi::Env env, Napi::Object exports);
void RegisterLoopWake(Napi::Env env, Napi::Object exports);
void RegisterFileLock(Napi::Env env, Napi::Object exports);
void RegisterThread(Napi::Env env, Napi::Object exports);
void RegisterFdWatch(Napi::Env env, Napi::Object exports);
void RegisterVcpuThread(Napi::Env env, Napi::Object exports);
// Kicks the vCPU registered under `fd` out of KVM_RUN (any thread). False when not registered.
bool KickVcpuFd(int fd);

}  // namespace tsvisor
