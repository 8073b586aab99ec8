/**
 * Validates command arguments with ajv against schemas/qmp and words the
 * first failure as QEMU's QAPI input visitor does (qapi/qobject-input-
 * visitor.c), so clients that match on error texts keep working:
 *   Parameter 'x' is missing
 *   Invalid parameter type for 'x', expected: integer
 *   Parameter 'x' is unexpected
 *   Parameter 'x' does not accept value 'v'
 * Nested names are QEMU's "a.b" and "list[0]"; an enum inside a list names
 * itself 'null', a QEMU 7.2 quirk kept for fidelity.
 */
import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import { CommandSchema } from './schema-files';
import { QmpError, genericError } from './errors';
import { JsonObject } from './json-value';

export class ArgumentValidator {
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(schemas: CommandSchema[]) {
    // allErrors:false: stop at the first failure (QEMU reports one), and
    // keep the work per message bounded for hostile input.
    const ajv = new Ajv({ allErrors: false, strict: true });
    ajv.addKeyword({ keyword: 'x-returns' });
    for (const s of schemas) this.validators.set(s.name, ajv.compile({ ...s.arguments, $id: undefined, $schema: undefined }));
  }

  /** The QEMU-worded error for bad arguments, or undefined when they are valid. */
  check(command: string, args: JsonObject): QmpError | undefined {
    const validate = this.validators.get(command);
    if (!validate) throw new Error(`no schema for command ${command}`);
    if (validate(args)) return undefined;
    const first = validate.errors?.[0];
    return first ? genericError(describe(first, args)) : genericError('Invalid arguments');
  }
}

/** "/a/0/b" -> "a[0].b", QEMU's full_name(). */
function qemuName(instancePath: string, child?: string): string {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (child !== undefined) parts.push(child);
  let name = '';
  for (const p of parts) {
    if (/^\d+$/.test(p) && name) name += `[${p}]`;
    else name += name ? `.${p}` : p;
  }
  return name;
}

function valueAt(root: unknown, instancePath: string): unknown {
  let v = root;
  for (const p of instancePath.split('/').slice(1)) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[p.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return v;
}

const QEMU_TYPE_NAMES: Record<string, string> = {
  integer: 'integer', number: 'number', string: 'string', boolean: 'boolean', object: 'object', array: 'array', null: 'null',
};

function describe(e: ErrorObject, args: JsonObject): string {
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return `Parameter '${qemuName(e.instancePath, String(params.missingProperty))}' is missing`;
    case 'additionalProperties':
      return `Parameter '${qemuName(e.instancePath, String(params.additionalProperty))}' is unexpected`;
    case 'type': {
      const expected = String(params.type).split(',')[0];
      return `Invalid parameter type for '${qemuName(e.instancePath)}', expected: ${QEMU_TYPE_NAMES[expected] ?? expected}`;
    }
    case 'enum': {
      const last = e.instancePath.split('/').pop() ?? '';
      const name = /^\d+$/.test(last) ? 'null' : qemuName(e.instancePath);
      return `Parameter '${name}' does not accept value '${String(valueAt(args, e.instancePath))}'`;
    }
    default:
      return `Parameter '${qemuName(e.instancePath)}' is invalid`;
  }
}
