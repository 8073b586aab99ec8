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
import type { default as AjvClass, ErrorObject, ValidateFunction } from 'ajv/dist/2019';
import { loadCommandSchema } from './schema-files';
import { QmpError, genericError } from './errors';
import { JsonObject, JsonValue, isJsonObject } from './json-value';
import { leftoverOrder } from './qdict-order';

export class ArgumentValidator {
  private readonly schemas = new Map<string, JsonObject>();
  private readonly validators = new Map<string, ValidateFunction>();
  private ajv: AjvClass | undefined;

  /** `load` gives a command's argument schema (default: schemas/qmp/<command>.json). */
  constructor(private readonly load: (command: string) => JsonObject = (c) => loadCommandSchema(c).arguments) {}

  private schema(command: string): JsonObject {
    let schema = this.schemas.get(command);
    if (!schema) {
      schema = this.load(command);
      this.schemas.set(command, schema);
    }
    return schema;
  }

  /**
   * Schemas are read, ajv loaded and each schema compiled on first use:
   * together they cost ~150 ms, which would otherwise delay the socket being
   * ready at start-up.
   */
  private validator(command: string): ValidateFunction {
    let validate = this.validators.get(command);
    if (validate) return validate;
    const schema = this.schema(command);
    if (!this.ajv) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { default: Ajv } = require('ajv/dist/2019') as typeof import('ajv/dist/2019');
      // allErrors:false: stop at the first failure (QEMU reports one), and
      // keep the work per message bounded for hostile input.
      this.ajv = new Ajv({ allErrors: false, strict: true });
      this.ajv.addKeyword({ keyword: 'x-returns' });
    }
    // The files declare draft-07 and ids ajv need not know; only the structure matters here.
    const plain: JsonObject = { ...schema };
    delete plain.$id;
    delete plain.$schema;
    validate = this.ajv.compile(inMemberOrder(plain) as JsonObject);
    this.validators.set(command, validate);
    return validate;
  }

  /** The QEMU-worded error for bad arguments, or undefined when they are valid. */
  check(command: string, args: JsonObject): QmpError | undefined {
    const validate = this.validator(command);
    // Present members in the order QEMU finds leftovers, so that of several
    // unexpected members the one QEMU names is the one reported.
    const ordered = inLeftoverOrder(args, this.schema(command));
    if (validate(ordered)) return undefined;
    const first = validate.errors?.[0];
    return first ? genericError(describe(first, ordered)) : genericError('Invalid arguments');
  }
}

/**
 * QEMU checks a struct member by member in declaration order (missing or
 * mistyped, whichever comes first), and unexpected members only at the end.
 * ajv's own keyword order differs (additionalProperties first, all of
 * `required` at once), so each object schema is rewritten for ajv into one
 * allOf entry per member, in order, closed by unevaluatedProperties (which
 * ajv evaluates last). The schema files stay plain JSON Schema.
 */
function inMemberOrder(schema: JsonValue): JsonValue {
  if (!isJsonObject(schema)) return schema;
  const out: JsonObject = { ...schema };
  if (isJsonObject(schema.items)) out.items = inMemberOrder(schema.items);
  if (schema.type !== 'object' || !isJsonObject(schema.properties)) return out;
  const properties = schema.properties;
  const required = Array.isArray(schema.required) ? schema.required : [];
  const members: JsonValue[] = Object.keys(properties).map((name) => {
    const member: JsonObject = {};
    if (required.includes(name)) member.required = [name];
    member.properties = { [name]: inMemberOrder(properties[name]) };
    return member;
  });
  delete out.properties;
  delete out.required;
  if (members.length > 0) out.allOf = members;
  if (schema.additionalProperties === false) {
    delete out.additionalProperties;
    out.unevaluatedProperties = false;
  }
  return out;
}

/** The value with each object's keys rearranged: leftover members first, in the order QEMU finds them. */
function inLeftoverOrder(v: JsonValue, schema: JsonValue | undefined): JsonValue {
  const sub = isJsonObject(schema) ? schema : {};
  if (Array.isArray(v)) return v.map((e) => inLeftoverOrder(e, sub.items));
  if (!isJsonObject(v)) return v;
  const properties = isJsonObject(sub.properties) ? sub.properties : {};
  const declared = Object.keys(properties);
  const keys = Object.keys(v);
  const out: JsonObject = Object.create(null) as JsonObject;
  for (const k of leftoverOrder(keys, declared)) out[k] = inLeftoverOrder(v[k], undefined);
  for (const k of keys) if (!(k in out)) out[k] = inLeftoverOrder(v[k], properties[k]);
  return out;
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

function describe(e: ErrorObject, args: JsonValue): string {
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return `Parameter '${qemuName(e.instancePath, String(params.missingProperty))}' is missing`;
    case 'additionalProperties':
      return `Parameter '${qemuName(e.instancePath, String(params.additionalProperty))}' is unexpected`;
    case 'unevaluatedProperties':
      return `Parameter '${qemuName(e.instancePath, String(params.unevaluatedProperty))}' is unexpected`;
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
