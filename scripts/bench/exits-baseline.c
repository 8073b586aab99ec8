/*
 * The C baseline for scripts/bench/exits: the same guest and the same VM
 * setup as the tsvisor side (in-kernel irqchip and PIT, 64-bit long mode,
 * identity-mapped with 2 MiB pages), driven by the tightest possible
 * KVM_RUN loop. Prints, for each run, microseconds per PIO exit of wall
 * time and of process CPU time (the latter barely moves when other processes
 * compete for the CPUs).
 *
 * usage: exits-baseline <exits-per-run> <runs>
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define RAM_SIZE 0x200000
#define CODE 0x8000
#define PML4 0x11000
#define PDPT 0x12000
#define PD 0x13000
#define GDT 0x10000
#define COUNT_PORT 0x10
#define DONE_PORT 0xf4

/* 1: out %al,$0x10; dec %rcx; jnz 1b; out %al,$0xf4; 2: jmp 2b -- same bytes as the TypeScript side. */
static const uint8_t guest[] = {0xe6, 0x10, 0x48, 0xff, 0xc9, 0x75, 0xf9, 0xe6, 0xf4, 0xeb, 0xfe};

static void die(const char *what) {
  fprintf(stderr, "exits-baseline: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void flat(struct kvm_segment *s, uint16_t sel, int code) {
  memset(s, 0, sizeof(*s));
  s->limit = 0xffffffff;
  s->selector = sel;
  s->type = code ? 0xb : 0x3;
  s->present = 1;
  s->s = 1;
  s->l = code;
  s->db = !code;
  s->g = 1;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s <exits-per-run> <runs>\n", argv[0]);
    return 2;
  }
  long exits = atol(argv[1]);
  int runs = atoi(argv[2]);
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("open /dev/kvm");
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) die("KVM_CREATE_VM");
  if (ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0) die("KVM_SET_TSS_ADDR");
  uint64_t idmap = 0xfffbc000;
  if (ioctl(vm, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0) die("KVM_SET_IDENTITY_MAP_ADDR");
  if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0) die("KVM_CREATE_IRQCHIP");
  struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
  if (ioctl(vm, KVM_CREATE_PIT2, &pit) < 0) die("KVM_CREATE_PIT2");

  uint8_t *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (ram == MAP_FAILED) die("mmap");
  struct kvm_userspace_memory_region region = {.slot = 0, .guest_phys_addr = 0, .memory_size = RAM_SIZE, .userspace_addr = (uintptr_t)ram};
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");
  memcpy(ram + CODE, guest, sizeof(guest));
  uint64_t gdt[] = {0, 0x00af9b000000ffffULL, 0x00cf93000000ffffULL};
  memcpy(ram + GDT, gdt, sizeof(gdt));
  *(uint64_t *)(ram + PML4) = PDPT | 3;
  *(uint64_t *)(ram + PDPT) = PD | 3;
  for (uint64_t i = 0; i < 512; i++) ((uint64_t *)(ram + PD))[i] = (i << 21) | 0x83;

  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) die("KVM_CREATE_VCPU");
  int mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  struct kvm_run *run = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) die("mmap kvm_run");

  struct kvm_sregs sregs;
  if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) die("KVM_GET_SREGS");
  flat(&sregs.cs, 0x08, 1);
  flat(&sregs.ds, 0x10, 0);
  sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
  sregs.gdt.base = GDT;
  sregs.gdt.limit = sizeof(gdt) - 1;
  sregs.cr3 = PML4;
  sregs.cr4 |= 1 << 5;
  sregs.cr0 = 0x80000031;
  sregs.efer |= 0x500;
  if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) die("KVM_SET_SREGS");

  volatile uint64_t sink = 0;
  for (int r = 0; r < runs; r++) {
    struct kvm_regs regs = {.rip = CODE, .rflags = 2, .rcx = (uint64_t)exits};
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) die("KVM_SET_REGS");
    struct timespec t0, t1, c0, c1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    for (;;) {
      if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
      if (run->exit_reason != KVM_EXIT_IO) {
        fprintf(stderr, "exits-baseline: unexpected exit %u\n", run->exit_reason);
        return 1;
      }
      if (run->io.port == DONE_PORT) break;
      /* The device's work: count the byte, as the TypeScript probe does. */
      sink += ((uint8_t *)run)[run->io.data_offset];
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    double wall = (t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3;
    double cpu = (c1.tv_sec - c0.tv_sec) * 1e6 + (c1.tv_nsec - c0.tv_nsec) / 1e3;
    printf("%.4f %.4f\n", wall / (double)(exits + 1), cpu / (double)(exits + 1));
  }
  return 0;
}
