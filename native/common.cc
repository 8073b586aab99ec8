#include "common.h"
#include <cerrno>
#include <cstring>
#include <string.h>

namespace tsvisor {

static std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name ? std::string(name) : "E" + std::to_string(err);
}

void ThrowErrnoHint(const Napi::Env& env, const char* op, int err, const std::string& hint) {
  std::string name = ErrnoName(err);
  std::string msg = std::string(op) + ": " + name;
  if (!hint.empty()) msg += " (" + hint + ")";
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, name));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, op));
  throw e;
}

void ThrowErrno(const Napi::Env& env, const char* op, int err) { ThrowErrnoHint(env, op, err, ""); }

void ThrowType(const Napi::Env& env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }

int ArgInt(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || !info[i].IsNumber()) ThrowType(info.Env(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().Int32Value();
}

uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || !info[i].IsNumber()) ThrowType(info.Env(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().Uint32Value();
}

uint64_t ArgU64(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i < info.Length() && info[i].IsBigInt()) {
    bool lossless = false;
    uint64_t v = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) ThrowType(info.Env(), std::string(what) + " does not fit in 64 bits");
    return v;
  }
  if (i < info.Length() && info[i].IsNumber()) {
    double d = info[i].As<Napi::Number>().DoubleValue();
    if (d < 0 || d > 9007199254740991.0 || d != static_cast<double>(static_cast<uint64_t>(d))) {
      ThrowType(info.Env(), std::string(what) + " must be a non-negative safe integer");
    }
    return static_cast<uint64_t>(d);
  }
  ThrowType(info.Env(), std::string(what) + " must be a number or bigint");
}

Bytes ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i < info.Length()) {
    Napi::Value v = info[i];
    if (v.IsArrayBuffer()) {
      auto ab = v.As<Napi::ArrayBuffer>();
      return {static_cast<uint8_t*>(ab.Data()), ab.ByteLength()};
    }
    if (v.IsTypedArray()) {
      auto ta = v.As<Napi::TypedArray>();
      uint8_t* base = static_cast<uint8_t*>(ta.ArrayBuffer().Data());
      return {base + ta.ByteOffset(), ta.ByteLength()};
    }
    if (v.IsDataView()) {
      auto dv = v.As<Napi::DataView>();
      uint8_t* base = static_cast<uint8_t*>(dv.ArrayBuffer().Data());
      return {base + dv.ByteOffset(), dv.ByteLength()};
    }
  }
  ThrowType(info.Env(), std::string(what) + " must be an ArrayBuffer or a typed array");
}

}  // namespace tsvisor
