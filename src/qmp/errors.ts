/**
 * QMP error classes (qapi/error.json). Clients such as libvirt branch on the
 * class, so each failure uses the class QEMU uses for it; the text is QEMU's
 * too wherever QEMU has one.
 */
export type QmpErrorClass = 'GenericError' | 'CommandNotFound' | 'DeviceNotActive' | 'DeviceNotFound' | 'KVMMissingCap';

export class QmpError extends Error {
  constructor(readonly errorClass: QmpErrorClass, message: string) {
    super(message);
    this.name = 'QmpError';
  }
}

export const genericError = (desc: string) => new QmpError('GenericError', desc);
