/**
 * The i8042 keyboard controller, reduced to what a guest needs from it in a
 * VM: a controller that passes Linux's probe without timeouts, a keyboard
 * that answers the atkbd driver's commands (it never types), no AUX (mouse)
 * port, and the CPU reset line (command 0xFE, or output-port bit 0 cleared
 * through 0xD1), which is how Linux's `reboot=k` and many firmwares reset.
 *
 * Ports: data 0x60, status/command 0x64. Port 0x61 (system control port B)
 * is a separate device (system-control-port.ts) because under KVM the
 * in-kernel PIT owns it.
 *
 * The AUX port reports itself absent the way Linux checks for it: the AUX
 * loop command (0xD3) echoes a byte that does not match and the AUX interface
 * test (0xA9) reports "clock line stuck low", so i8042_check_aux() gives up
 * at once instead of waiting for a mouse that will never answer.
 */
import { AccessSize, IoBus, PioDevice } from '../bus';
import { InterruptLine } from '../irq';
import { Logger, defaultLogger } from '../../log';

export const I8042_DATA_PORT = 0x60;
export const I8042_COMMAND_PORT = 0x64;
export const I8042_KBD_IRQ = 1;
export const I8042_AUX_IRQ = 12;

// Status register bits.
export const STATUS_OBF = 0x01; // output buffer full
export const STATUS_IBF = 0x02; // input buffer full (never: we consume writes at once)
export const STATUS_SYSFLAG = 0x04; // set once the self-test passed
export const STATUS_CMD = 0x08; // last write was to the command port
export const STATUS_UNLOCKED = 0x10; // keyboard not inhibited by the keylock
export const STATUS_AUXDATA = 0x20; // output buffer holds AUX data

// Controller configuration byte ("command byte", CTR) bits.
export const CTR_KBDINT = 0x01;
export const CTR_AUXINT = 0x02;
export const CTR_SYSFLAG = 0x04;
export const CTR_KBDDIS = 0x10;
export const CTR_AUXDIS = 0x20;
export const CTR_XLATE = 0x40;

// Controller commands (written to port 0x64).
export const CMD_READ_CTR = 0x20;
export const CMD_WRITE_CTR = 0x60;
export const CMD_AUX_DISABLE = 0xa7;
export const CMD_AUX_ENABLE = 0xa8;
export const CMD_AUX_TEST = 0xa9;
export const CMD_SELF_TEST = 0xaa;
export const CMD_KBD_TEST = 0xab;
export const CMD_KBD_DISABLE = 0xad;
export const CMD_KBD_ENABLE = 0xae;
export const CMD_READ_INPUT_PORT = 0xc0;
export const CMD_READ_OUTPUT_PORT = 0xd0;
export const CMD_WRITE_OUTPUT_PORT = 0xd1;
export const CMD_WRITE_KBD_OUTPUT = 0xd2;
export const CMD_WRITE_AUX_OUTPUT = 0xd3;
export const CMD_WRITE_AUX = 0xd4;
export const CMD_PULSE_RESET = 0xfe;

export const SELF_TEST_OK = 0x55;
/** AUX interface test result: clock line stuck low, i.e. no AUX port. */
const AUX_TEST_CLOCK_STUCK_LOW = 0x01;

// Output port bits.
const OUTPUT_PORT_RESET_HIGH = 0x01; // 0 holds the CPU in reset
const OUTPUT_PORT_A20 = 0x02;

// PS/2 keyboard commands and replies (written to port 0x60).
export const KBD_ACK = 0xfa;
export const KBD_RESEND = 0xfe;
export const KBD_BAT_OK = 0xaa;
const KBD_CMD_SET_LEDS = 0xed;
const KBD_CMD_ECHO = 0xee;
const KBD_CMD_SCANCODE_SET = 0xf0;
const KBD_CMD_GET_ID = 0xf2;
const KBD_CMD_SET_RATE = 0xf3;
const KBD_CMD_RESET = 0xff;
/** Reply to GET ID: an MF2 keyboard (0xAB 0x83; 0xAB 0x41 when the controller translates). */
const KBD_ID = [0xab, 0x83] as const;
const KBD_ID_TRANSLATED = [0xab, 0x41] as const;

const OUTPUT_QUEUE_LIMIT = 16;

export interface I8042Options {
  /** The guest pulsed the reset line. */
  onReset: () => void;
  /** IRQ 1; optional so a machine without keyboard interrupts can leave it out. */
  kbdIrq?: InterruptLine;
  /** IRQ 12. */
  auxIrq?: InterruptLine;
  log?: Logger;
}

interface OutputByte {
  value: number;
  aux: boolean;
}

export interface I8042State {
  ctr: number;
  outputPort: number;
  lastWasCommand: boolean;
  selfTestPassed: boolean;
  /** Controller command awaiting its parameter byte on port 0x60, or 0. */
  pendingControllerCommand: number;
  /** Keyboard command awaiting its parameter byte, or 0. */
  pendingKeyboardCommand: number;
  scancodeSet: number;
  output: OutputByte[];
}

export class I8042 implements PioDevice {
  private ctr = CTR_KBDINT | CTR_SYSFLAG | CTR_XLATE;
  private outputPort = OUTPUT_PORT_RESET_HIGH | OUTPUT_PORT_A20;
  private lastWasCommand = false;
  private selfTestPassed = true; // firmware already ran it before the OS looks
  private pendingControllerCommand = 0;
  private pendingKeyboardCommand = 0;
  private scancodeSet = 2;
  private output: OutputByte[] = [];
  private kbdIrqLevel = false;
  private auxIrqLevel = false;
  private readonly onReset: () => void;
  private readonly kbdIrq: InterruptLine | undefined;
  private readonly auxIrq: InterruptLine | undefined;
  private readonly log: Logger;

  constructor(opts: I8042Options) {
    this.onReset = opts.onReset;
    this.kbdIrq = opts.kbdIrq;
    this.auxIrq = opts.auxIrq;
    this.log = opts.log ?? defaultLogger;
  }

  /** Registers the data (0x60) and command (0x64) ports; they are not contiguous. */
  register(bus: IoBus): void {
    bus.registerPio(I8042_DATA_PORT, 1, this.portDevice(I8042_DATA_PORT), 'i8042 data');
    bus.registerPio(I8042_COMMAND_PORT, 1, this.portDevice(I8042_COMMAND_PORT), 'i8042 command');
  }

  /** A PioDevice for one of the two ports, for buses that map them separately. */
  portDevice(port: typeof I8042_DATA_PORT | typeof I8042_COMMAND_PORT): PioDevice {
    return {
      pioRead: (offset, size) => (offset === 0 ? this.pioRead(port - I8042_DATA_PORT, size) : 0xff),
      pioWrite: (offset, size, value) => {
        if (offset === 0) this.pioWrite(port - I8042_DATA_PORT, size, value);
      },
    };
  }

  /** Offsets are relative to 0x60: 0 = data, 4 = status/command. Other offsets read 0xff. */
  pioRead(offset: number, _size: AccessSize): number {
    if (offset === 0) return this.readData();
    if (offset === I8042_COMMAND_PORT - I8042_DATA_PORT) return this.readStatus();
    return 0xff;
  }

  pioWrite(offset: number, _size: AccessSize, value: number): void {
    const v = (Number.isFinite(value) ? value : 0) & 0xff;
    if (offset === 0) this.writeData(v);
    else if (offset === I8042_COMMAND_PORT - I8042_DATA_PORT) this.writeCommand(v);
  }

  readStatus(): number {
    let s = STATUS_UNLOCKED;
    if (this.selfTestPassed) s |= STATUS_SYSFLAG;
    if (this.lastWasCommand) s |= STATUS_CMD;
    const head = this.output[0];
    if (head) {
      s |= STATUS_OBF;
      if (head.aux) s |= STATUS_AUXDATA;
    }
    return s;
  }

  readData(): number {
    const head = this.output.shift();
    if (head && this.output.length > 0) {
      // OBF drops when the byte is read and rises again as the next one loads:
      // an edge-triggered IRQ 1/12 must see a new edge per byte.
      this.lowerInterrupts();
    }
    this.updateInterrupts();
    // An empty output buffer reads back whatever was last latched; 0 is as good as any.
    return head ? head.value : 0;
  }

  writeCommand(cmd: number): void {
    this.lastWasCommand = true;
    this.pendingControllerCommand = 0;
    switch (cmd) {
      case CMD_READ_CTR:
        this.queueOutput(this.ctr, false);
        break;
      case CMD_WRITE_CTR:
      case CMD_WRITE_OUTPUT_PORT:
      case CMD_WRITE_KBD_OUTPUT:
      case CMD_WRITE_AUX_OUTPUT:
      case CMD_WRITE_AUX:
        this.pendingControllerCommand = cmd;
        break;
      case CMD_AUX_DISABLE:
        this.ctr |= CTR_AUXDIS;
        break;
      case CMD_AUX_ENABLE:
        this.ctr &= ~CTR_AUXDIS;
        break;
      case CMD_AUX_TEST:
        this.queueOutput(AUX_TEST_CLOCK_STUCK_LOW, false);
        break;
      case CMD_SELF_TEST:
        this.selfTestPassed = true;
        this.queueOutput(SELF_TEST_OK, false);
        break;
      case CMD_KBD_TEST:
        this.queueOutput(0x00, false);
        break;
      case CMD_KBD_DISABLE:
        this.ctr |= CTR_KBDDIS;
        break;
      case CMD_KBD_ENABLE:
        this.ctr &= ~CTR_KBDDIS;
        break;
      case CMD_READ_INPUT_PORT:
        this.queueOutput(0x80, false); // keyboard not inhibited
        break;
      case CMD_READ_OUTPUT_PORT:
        this.queueOutput(this.outputPort, false);
        break;
      default:
        // 0xF0-0xFF pulse output-port lines low for 6 us; bit 0 clear pulses reset (0xFE is the common one).
        if (cmd >= 0xf0 && (cmd & 0x01) === 0) {
          this.requestReset();
        } else if (cmd < 0xf0) {
          this.log.debug(`i8042: ignoring controller command 0x${cmd.toString(16)}`);
        }
        break;
    }
    this.updateInterrupts();
  }

  writeData(v: number): void {
    this.lastWasCommand = false;
    const cmd = this.pendingControllerCommand;
    this.pendingControllerCommand = 0;
    switch (cmd) {
      case CMD_WRITE_CTR:
        this.ctr = v;
        this.selfTestPassed = (v & CTR_SYSFLAG) !== 0 || this.selfTestPassed;
        break;
      case CMD_WRITE_OUTPUT_PORT:
        this.outputPort = v;
        if ((v & OUTPUT_PORT_RESET_HIGH) === 0) this.requestReset();
        break;
      case CMD_WRITE_KBD_OUTPUT:
        this.queueOutput(v, false);
        break;
      case CMD_WRITE_AUX_OUTPUT:
        // See the header: a deliberately non-matching echo tells Linux there is no AUX port.
        this.queueOutput(v ^ 0xff, true);
        break;
      case CMD_WRITE_AUX:
        break; // no mouse behind the AUX port: the byte goes nowhere
      default:
        this.keyboardByte(v);
        break;
    }
    this.updateInterrupts();
  }

  /** A byte sent to the keyboard itself: the PS/2 keyboard protocol, replies via the output buffer. */
  private keyboardByte(v: number): void {
    const pending = this.pendingKeyboardCommand;
    if (pending !== 0) {
      this.pendingKeyboardCommand = 0;
      if (pending === KBD_CMD_SCANCODE_SET) {
        this.queueOutput(KBD_ACK, false);
        if (v === 0) this.queueOutput(this.scancodeSet, false);
        else if (v >= 1 && v <= 3) this.scancodeSet = v;
        return;
      }
      this.queueOutput(KBD_ACK, false);
      return;
    }
    switch (v) {
      case KBD_CMD_RESET:
        this.queueOutput(KBD_ACK, false);
        this.queueOutput(KBD_BAT_OK, false);
        this.scancodeSet = 2;
        break;
      case KBD_CMD_GET_ID: {
        this.queueOutput(KBD_ACK, false);
        const id = this.ctr & CTR_XLATE ? KBD_ID_TRANSLATED : KBD_ID;
        for (const b of id) this.queueOutput(b, false);
        break;
      }
      case KBD_CMD_ECHO:
        this.queueOutput(KBD_CMD_ECHO, false);
        break;
      case KBD_CMD_SET_LEDS:
      case KBD_CMD_SET_RATE:
      case KBD_CMD_SCANCODE_SET:
        this.pendingKeyboardCommand = v;
        this.queueOutput(KBD_ACK, false);
        break;
      default:
        // Enable/disable scanning, set defaults, typematic modes: all just acknowledged.
        this.queueOutput(KBD_ACK, false);
        break;
    }
  }

  private queueOutput(value: number, aux: boolean): void {
    if (this.output.length >= OUTPUT_QUEUE_LIMIT) return;
    this.output.push({ value: value & 0xff, aux });
  }

  private requestReset(): void {
    this.log.info('i8042: guest pulsed the reset line');
    this.onReset();
  }

  private lowerInterrupts(): void {
    if (this.kbdIrqLevel) {
      this.kbdIrqLevel = false;
      this.kbdIrq?.set(false);
    }
    if (this.auxIrqLevel) {
      this.auxIrqLevel = false;
      this.auxIrq?.set(false);
    }
  }

  /** The controller drives IRQ 1 / IRQ 12 while the byte at the head of its output buffer is for that port. */
  private updateInterrupts(force = false): void {
    const head = this.output[0];
    const kbd = head !== undefined && !head.aux && (this.ctr & CTR_KBDINT) !== 0;
    const aux = head !== undefined && head.aux && (this.ctr & CTR_AUXINT) !== 0;
    if (force || kbd !== this.kbdIrqLevel) {
      this.kbdIrqLevel = kbd;
      this.kbdIrq?.set(kbd);
    }
    if (force || aux !== this.auxIrqLevel) {
      this.auxIrqLevel = aux;
      this.auxIrq?.set(aux);
    }
  }

  save(): I8042State {
    return {
      ctr: this.ctr,
      outputPort: this.outputPort,
      lastWasCommand: this.lastWasCommand,
      selfTestPassed: this.selfTestPassed,
      pendingControllerCommand: this.pendingControllerCommand,
      pendingKeyboardCommand: this.pendingKeyboardCommand,
      scancodeSet: this.scancodeSet,
      output: this.output.map((b) => ({ ...b })),
    };
  }

  restore(state: I8042State): void {
    const byte = (n: unknown) => (typeof n === 'number' && Number.isFinite(n) ? n & 0xff : 0);
    this.ctr = byte(state.ctr);
    this.outputPort = byte(state.outputPort) | OUTPUT_PORT_RESET_HIGH;
    this.lastWasCommand = state.lastWasCommand === true;
    this.selfTestPassed = state.selfTestPassed !== false;
    this.pendingControllerCommand = byte(state.pendingControllerCommand);
    this.pendingKeyboardCommand = byte(state.pendingKeyboardCommand);
    this.scancodeSet = byte(state.scancodeSet) || 2;
    this.output = (Array.isArray(state.output) ? state.output : [])
      .slice(0, OUTPUT_QUEUE_LIMIT)
      .map((b) => ({ value: byte(b.value), aux: b.aux === true }));
    this.updateInterrupts(true);
  }
}
