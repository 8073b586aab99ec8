// The registry of runnable vCPUs, shared by vcpu.cc (KVM_RUN called from a
// JavaScript thread) and vcpu-thread.cc (KVM_RUN looped on a native thread
// of its own): each slot holds the registry's mapping of one vCPU's kvm_run
// page and which thread, if any, is inside KVM_RUN, so a kick from any
// thread can reach it.
#pragma once
#include <linux/kvm.h>
#include <pthread.h>
#include <cstddef>
#include <memory>

namespace tsvisor {

// The page is unmapped when the last holder (registry, a run in flight, a vCPU thread) lets go.
struct RunSlot {
  RunSlot(kvm_run* r, size_t size) : run(r), mmap_size(size) {}
  ~RunSlot();
  RunSlot(const RunSlot&) = delete;
  RunSlot& operator=(const RunSlot&) = delete;
  kvm_run* run;
  size_t mmap_size;
  pthread_t thread{};
  bool in_run = false;
  // Set by KickSlot (the main thread, the loop waker, parking): whoever runs
  // this vCPU must go back to its caller. NotifySlot leaves it clear.
  bool foreign_kick = false;
};

// The slot registered for `fd`, or null.
std::shared_ptr<RunSlot> FindRunSlot(int fd);
// One KVM_RUN on the calling thread, kickable while it lasts. Returns the
// ioctl's result; *err is errno when it is negative (EINTR after a kick).
// *foreign says whether a KickSlot (rather than only NotifySlot) interrupted
// it; a KickSlot that came before the call makes it return EINTR at once.
int RunOnSlot(int fd, RunSlot& slot, int* err, bool* foreign);
// For threads that exist only to run a vCPU: process-directed signals
// (SIGINT, SIGCHLD...) go to Node's threads, only the kick reaches this one.
void BlockSignalsButKickOnThisThread();
// immediate_exit + signal to the thread in KVM_RUN (if any); any thread.
void KickSlot(RunSlot& slot);
// The same interruption, from a vCPU thread that has handed its exit to the
// machine thread (which runs this slot's vCPU): the machine thread may serve
// it and re-enter KVM_RUN without going back to its event loop.
void NotifySlot(RunSlot& slot);

}  // namespace tsvisor
