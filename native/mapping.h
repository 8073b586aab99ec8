// Host mappings shown to JavaScript as external ArrayBuffers over the same
// bytes (guest RAM, a vCPU's kvm_run page). Reference counted in one
// process-wide registry: every ArrayBuffer holds one reference, dropped
// either by an explicit release (which detaches the buffer first, so JS can
// never touch unmapped pages) or by the buffer's finalizer. The pages are
// unmapped when the last reference goes.
#pragma once
#include "common.h"

namespace tsvisor {

// Registers a fresh mapping (one reference) and returns its ArrayBuffer.
Napi::ArrayBuffer AdoptMapping(Napi::Env env, void* address, size_t length);
// Another ArrayBuffer over a live registered mapping; throws if none at address.
Napi::ArrayBuffer AttachMapping(Napi::Env env, uintptr_t address);
// Detaches the buffer and drops its reference. No-op if already released.
void ReleaseMapping(Napi::Env env, Napi::Value buffer);

}  // namespace tsvisor
