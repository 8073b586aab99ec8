/**
 * A guest exception raised while executing an instruction. Handlers throw it;
 * the execution loop catches it and delivers it through the IDT, so every
 * instruction either completes or leaves architectural state as it was
 * (except the completed iterations of a REP string instruction).
 */
export class CpuException {
  constructor(
    readonly vector: number,
    /** Undefined for vectors that push no error code. */
    readonly errorCode: number | undefined,
    /** CR2 for #PF: the faulting linear address. */
    readonly address?: number,
  ) {}
}

/** Raised for something this CPU does not implement; run() reports it as a VcpuStop error. */
export class CpuUnimplemented {
  constructor(readonly what: string) {}
}

export function fault(vector: number, errorCode?: number): CpuException {
  return new CpuException(vector, errorCode);
}
