/**
 * query-qmp-schema: QEMU's SchemaInfo list (qapi/introspect.json) generated
 * from schemas/qmp. As QEMU does, non-builtin types get opaque numeric names
 * ("0" is always the empty object), arrays are named "[elem]", optional
 * members carry "default": null, and structurally equal types share one
 * entry. libvirt reads this to learn which commands and arguments exist.
 */
import { CommandSchema, EventSchema } from './schema-files';
import { JsonObject, JsonValue, isJsonObject } from './json-value';

type SchemaInfo = JsonObject;

const BUILTINS: Array<[string, string]> = [
  ['str', 'string'], ['any', 'value'], ['bool', 'boolean'], ['int', 'int'], ['null', 'null'], ['number', 'number'],
];

const BUILTIN_FOR_JSON_TYPE: Record<string, string> = {
  string: 'str', integer: 'int', boolean: 'bool', number: 'number', null: 'null',
};

class TypeTable {
  readonly entries: SchemaInfo[] = [];
  private readonly byShape = new Map<string, string>();
  private next = 0;

  constructor() {
    this.intern({ type: 'object', properties: {}, additionalProperties: false });
  }

  /** The SchemaInfo type name for a JSON Schema, adding entries as needed. */
  intern(schema: JsonValue): string {
    if (!isJsonObject(schema) || Object.keys(schema).filter((k) => k !== 'description').length === 0) return 'any';
    const type = schema.type;
    if (type === 'array') {
      const element = this.intern(schema.items ?? {});
      const name = `[${element}]`;
      if (!this.byShape.has(name)) {
        this.byShape.set(name, name);
        this.entries.push({ name, 'meta-type': 'array', 'element-type': element });
      }
      return name;
    }
    if (type === 'string' && Array.isArray(schema.enum)) {
      const values = schema.enum.map(String);
      return this.named(`enum:${JSON.stringify(values)}`, (name) => ({
        name, 'meta-type': 'enum', members: values.map((v) => ({ name: v })), values,
      }));
    }
    if (type === 'object') {
      const properties = isJsonObject(schema.properties) ? schema.properties : {};
      const required = Array.isArray(schema.required) ? schema.required.map(String) : [];
      const members = Object.keys(properties).map((key) => {
        const member: JsonObject = { name: key };
        if (!required.includes(key)) member.default = null;
        member.type = this.intern(properties[key]);
        return member;
      });
      return this.named(`object:${JSON.stringify(members)}`, (name) => ({ name, 'meta-type': 'object', members }));
    }
    return typeof type === 'string' && BUILTIN_FOR_JSON_TYPE[type] ? BUILTIN_FOR_JSON_TYPE[type] : 'any';
  }

  private named(shape: string, make: (name: string) => SchemaInfo): string {
    const known = this.byShape.get(shape);
    if (known !== undefined) return known;
    const name = String(this.next++);
    this.byShape.set(shape, name);
    this.entries.push(make(name));
    return name;
  }
}

export function buildSchemaInfo(commands: CommandSchema[], events: EventSchema[]): SchemaInfo[] {
  const types = new TypeTable();
  const entities: SchemaInfo[] = [];
  for (const c of commands) {
    const argType = types.intern(c.arguments);
    const retType = types.intern(c.returns);
    entities.push({ name: c.name, 'meta-type': 'command', 'arg-type': argType, 'ret-type': retType });
  }
  for (const e of events) {
    entities.push({ name: e.name, 'meta-type': 'event', 'arg-type': types.intern(e.data) });
  }
  const builtins = BUILTINS.map(([name, jsonType]) => ({ name, 'meta-type': 'builtin', 'json-type': jsonType }));
  return [...entities, ...types.entries, ...builtins];
}
