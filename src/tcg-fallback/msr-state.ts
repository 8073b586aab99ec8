/** Model-specific register values that are plain storage (the rest live in the CPU or the LAPIC). */
export class MsrState {
  star = 0n;
  lstar = 0n;
  cstar = 0n;
  sfmask = 0n;
  kernelGsBase = 0n;
  tscAux = 0n;
  /** IA32_TSC_ADJUST: the sum of the guest's changes to the TSC (SDM 17.17.3). */
  tscAdjust = 0n;
  /** Power-on PAT (SDM 11.12.4). */
  pat = 0x0007040600070406n;
  sysenterCs = 0n;
  sysenterEsp = 0n;
  sysenterEip = 0n;
  /** Fast strings enabled; nothing else. */
  miscEnable = 1n;
  apicBase = 0xfee00900n;
  mtrrDefType = 0n;
  readonly mtrrFixed = new Map<number, bigint>();
  readonly mtrrVar = new Map<number, bigint>();
}
