/*
 * Native reference for the differential CPU harness.
 *
 * Reads test cases from stdin, runs each one directly on the host CPU in user
 * mode and writes the resulting architectural state to stdout. The software
 * CPU (src/tcg-fallback) runs the same cases; the TypeScript side compares.
 *
 * A case is: a list of 4 KiB pages (mapped at fixed addresses, the same ones
 * the software CPU uses) and the initial register state. The code ends with
 * INT3 at the stop address; every way out of the sequence (the INT3 or a
 * fault) arrives as a signal, whose ucontext carries all registers, so one
 * path saves everything. The handler siglongjmps back to the request loop.
 *
 * Wire format (little endian, all fields packed):
 *   request:  u32 npages, npages * { u64 addr, u32 flags (1=W,2=X), u8[4096] },
 *             state
 *   state:    u64 gpr[16], u64 rip, u64 rflags, u8 xmm[256], u32 mxcsr,
 *             u16 fcw, u16 fsw, u16 ftw (abridged, physical order), u16 pad,
 *             f64 st[8] (ST(i) order), u64 fs_base, u64 gs_base
 *   response: u32 kind (0 = reached the INT3 at the stop address,
 *             1 = exception, 2 = still running after 2 s: a generator bug), u32 vector, u32 error code, u32 pad,
 *             u64 fault address, state, then the bytes of every writable page
 *             in request order.
 * An npages of 0xffffffff ends the process.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <asm/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define PAGE 4096
#define MAX_PAGES 16

struct state {
  uint64_t gpr[16];
  uint64_t rip;
  uint64_t rflags;
  uint8_t xmm[256];
  uint32_t mxcsr;
  uint16_t fcw, fsw, ftw, pad;
  double st[8];
  uint64_t fs_base, gs_base;
} __attribute__((packed));

struct response_head {
  uint32_t kind, vector, error, pad;
  uint64_t address;
} __attribute__((packed));

struct page {
  uint64_t addr;
  uint32_t flags;
};

/* Read by the entry stub below through RIP-relative addressing. */
struct state entry_state;
uint8_t entry_fx[512] __attribute__((aligned(16)));
uint64_t entry_rip;

static uint8_t scratch_stack[4096] __attribute__((aligned(16)));
uint64_t scratch_top;

static sigjmp_buf back;
/* glibc's own FS base (TLS, and the pointer guard siglongjmp needs). */
static uint64_t libc_fs;
static int fs_switched;

/* arch_prctl without libc: the libc wrapper may touch errno, which lives behind FS. */
static long raw_arch_prctl(long code, uint64_t addr) {
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "0"((long)SYS_arch_prctl), "D"(code), "S"(addr) : "rcx", "r11", "memory");
  return ret;
}
static struct response_head out_head;
static struct state out_state;

/* Enter the sequence with every register taken from entry_state. */
extern void enter_sequence(void);
__asm__(
    ".text\n"
    ".globl enter_sequence\n"
    "enter_sequence:\n"
    "  fxrstor64 entry_fx(%rip)\n"
    "  mov scratch_top(%rip), %rsp\n"
    "  pushq entry_state+136(%rip)\n"
    "  popfq\n"
    "  mov entry_state+0(%rip), %rax\n"
    "  mov entry_state+8(%rip), %rcx\n"
    "  mov entry_state+16(%rip), %rdx\n"
    "  mov entry_state+24(%rip), %rbx\n"
    "  mov entry_state+40(%rip), %rbp\n"
    "  mov entry_state+48(%rip), %rsi\n"
    "  mov entry_state+56(%rip), %rdi\n"
    "  mov entry_state+64(%rip), %r8\n"
    "  mov entry_state+72(%rip), %r9\n"
    "  mov entry_state+80(%rip), %r10\n"
    "  mov entry_state+88(%rip), %r11\n"
    "  mov entry_state+96(%rip), %r12\n"
    "  mov entry_state+104(%rip), %r13\n"
    "  mov entry_state+112(%rip), %r14\n"
    "  mov entry_state+120(%rip), %r15\n"
    "  mov entry_state+32(%rip), %rsp\n"
    "  jmp *entry_rip(%rip)\n");

static void on_signal(int sig, siginfo_t *info, void *ctx) {
  ucontext_t *uc = ctx;
  greg_t *g = uc->uc_mcontext.gregs;
  static const int order[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                                REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};
  for (int i = 0; i < 16; i++) out_state.gpr[i] = (uint64_t)g[order[i]];
  out_state.rip = (uint64_t)g[REG_RIP];
  out_state.rflags = (uint64_t)g[REG_EFL];
  struct _libc_fpstate *fp = uc->uc_mcontext.fpregs;
  memcpy(out_state.xmm, fp->_xmm, 256);
  out_state.mxcsr = fp->mxcsr;
  out_state.fcw = fp->cwd;
  out_state.fsw = fp->swd;
  out_state.ftw = fp->ftw;
  for (int i = 0; i < 8; i++) {
    long double v = 0;
    memcpy(&v, &fp->_st[i], 10);
    out_state.st[i] = (double)v;
  }
  out_state.fs_base = entry_state.fs_base;
  out_state.gs_base = entry_state.gs_base;
  if (fs_switched) raw_arch_prctl(ARCH_SET_FS, libc_fs);
  memset(&out_head, 0, sizeof out_head);
  out_head.vector = (uint32_t)g[REG_TRAPNO];
  out_head.error = (uint32_t)g[REG_ERR];
  if (sig == SIGALRM) {
    out_head.kind = 2;
  } else if (sig == SIGTRAP && g[REG_TRAPNO] == 3) {
    /* INT3 traps after the instruction; report where it started. */
    out_state.rip -= 1;
    out_head.kind = 0;
  } else {
    out_head.kind = 1;
    out_head.address = (uint64_t)(uintptr_t)info->si_addr;
  }
  siglongjmp(back, 1);
}

static void read_exact(void *buf, size_t n) {
  uint8_t *p = buf;
  while (n > 0) {
    ssize_t r = read(0, p, n);
    if (r <= 0) exit(r == 0 ? 0 : 2);
    p += r;
    n -= (size_t)r;
  }
}

static void write_exact(const void *buf, size_t n) {
  const uint8_t *p = buf;
  while (n > 0) {
    ssize_t r = write(1, p, n);
    if (r <= 0) exit(3);
    p += r;
    n -= (size_t)r;
  }
}

/* Pages stay mapped between cases; a case only rewrites their contents. */
static uint64_t mapped[256];
static int nmapped;

static void ensure_mapped(uint64_t addr) {
  for (int i = 0; i < nmapped; i++)
    if (mapped[i] == addr) return;
  void *p = mmap((void *)(uintptr_t)addr, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p != (void *)(uintptr_t)addr) {
    fprintf(stderr, "runner: cannot map 0x%llx\n", (unsigned long long)addr);
    exit(4);
  }
  if (nmapped < 256) mapped[nmapped++] = addr;
}

static void build_fx(void) {
  memset(entry_fx, 0, sizeof entry_fx);
  memcpy(entry_fx + 0, &entry_state.fcw, 2);
  memcpy(entry_fx + 2, &entry_state.fsw, 2);
  entry_fx[4] = (uint8_t)entry_state.ftw;
  memcpy(entry_fx + 24, &entry_state.mxcsr, 4);
  uint32_t mask = 0xffff;
  memcpy(entry_fx + 28, &mask, 4);
  for (int i = 0; i < 8; i++) {
    long double v = entry_state.st[i];
    memcpy(entry_fx + 32 + 16 * i, &v, 10);
  }
  memcpy(entry_fx + 160, entry_state.xmm, 256);
}

int main(void) {
  static uint8_t altstack[65536];
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
  sigaltstack(&ss, NULL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGALRM};
  for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
  scratch_top = (uint64_t)(uintptr_t)(scratch_stack + sizeof scratch_stack);
  raw_arch_prctl(ARCH_GET_FS, (uint64_t)(uintptr_t)&libc_fs);

  static uint8_t bytes[MAX_PAGES][PAGE];
  struct page pages[MAX_PAGES];
  for (;;) {
    uint32_t n;
    read_exact(&n, 4);
    if (n == 0xffffffffu) return 0;
    if (n > MAX_PAGES) exit(5);
    for (uint32_t i = 0; i < n; i++) {
      read_exact(&pages[i].addr, 8);
      read_exact(&pages[i].flags, 4);
      read_exact(bytes[i], PAGE);
    }
    read_exact(&entry_state, sizeof entry_state);
    for (uint32_t i = 0; i < n; i++) {
      ensure_mapped(pages[i].addr);
      void *p = (void *)(uintptr_t)pages[i].addr;
      mprotect(p, PAGE, PROT_READ | PROT_WRITE);
      memcpy(p, bytes[i], PAGE);
      int prot = PROT_READ | ((pages[i].flags & 1) ? PROT_WRITE : 0) | ((pages[i].flags & 2) ? PROT_EXEC : 0);
      mprotect(p, PAGE, prot);
    }
    /* Mapped last time but not now: take every access away so it faults. */
    for (int m = 0; m < nmapped; m++) {
      int used = 0;
      for (uint32_t i = 0; i < n; i++) used |= pages[i].addr == mapped[m];
      if (!used) mprotect((void *)(uintptr_t)mapped[m], PAGE, PROT_NONE);
    }
    entry_rip = entry_state.rip;
    build_fx();
    alarm(2);
    raw_arch_prctl(ARCH_SET_GS, entry_state.gs_base);
    if (sigsetjmp(back, 1) == 0) {
      /* From here until the signal handler restores it, no libc call may run. */
      fs_switched = entry_state.fs_base != 0;
      if (fs_switched) raw_arch_prctl(ARCH_SET_FS, entry_state.fs_base);
      enter_sequence();
    }
    alarm(0);
    write_exact(&out_head, sizeof out_head);
    write_exact(&out_state, sizeof out_state);
    for (uint32_t i = 0; i < n; i++)
      if (pages[i].flags & 1) write_exact((void *)(uintptr_t)pages[i].addr, PAGE);
  }
}
