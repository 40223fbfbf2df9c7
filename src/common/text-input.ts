import { ValidateBy, buildMessage, type ValidationOptions } from 'class-validator';

/** Any C0 control character: never in a one-line value (names, ids, URLs, keys, query strings, path segments). */
const ANY_CONTROL = /[\u0000-\u001f]/;
/** C0 controls but tab, line feed and carriage return: never in multi-line text. */
const CONTROL_BUT_LINE_BREAKS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/;

const MULTI_LINE_PROPERTIES = Symbol('autocode:multi-line-properties');

/**
 * Marks a property of a request DTO as multi-line text (a prompt, a spec's body,
 * free-form metadata): its strings, nested ones too, may hold tab, line feed and
 * carriage return. Every other string of a request may hold no control
 * character at all (see `RequestValidationPipe`).
 */
export function MultiLineText(): PropertyDecorator {
  return (target, property) => {
    const inherited: (string | symbol)[] = Reflect.getMetadata(MULTI_LINE_PROPERTIES, target.constructor) ?? [];
    Reflect.defineMetadata(MULTI_LINE_PROPERTIES, [...inherited, property], target.constructor);
  };
}

function multiLineProperties(metatype: unknown): ReadonlySet<string | symbol> {
  return new Set(typeof metatype === 'function' ? ((Reflect.getMetadata(MULTI_LINE_PROPERTIES, metatype) as (string | symbol)[] | undefined) ?? []) : []);
}

/** Whether `text` holds a control character it may not: any, or for multi-line text any but tab, LF and CR. */
export function hasForbiddenControl(text: string, multiLine: boolean): boolean {
  return (multiLine ? CONTROL_BUT_LINE_BREAKS : ANY_CONTROL).test(text);
}

function describeForbidden(where: string, multiLine: boolean): string {
  return multiLine
    ? `${where} must not contain control characters other than tab, line feed and carriage return`
    : `${where} must not contain control characters`;
}

function findIn(value: unknown, multiLine: boolean, where: string): string | null {
  if (typeof value === 'string') return hasForbiddenControl(value, multiLine) ? describeForbidden(where, multiLine) : null;
  if (value === null || typeof value !== 'object') return null;
  const entries: [string, unknown][] = Array.isArray(value) ? value.map((item, index) => [String(index), item]) : Object.entries(value);
  for (const [key, member] of entries) {
    if (ANY_CONTROL.test(key)) return `${where} must not have keys with control characters`;
    const found = findIn(member, multiLine, `${where}.${key}`);
    if (found) return found;
  }
  return null;
}

/**
 * The first control character a request value may not hold, described for the
 * client, or null. `value` is a whole body, query or set of path parameters
 * (`metatype` says which properties are multi-line), or a single named one.
 */
export function forbiddenControlIn(value: unknown, metatype: unknown, name: string | undefined): string | null {
  if (name !== undefined) return findIn(value, false, name);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return findIn(value, false, 'the request');
  const multiLine = multiLineProperties(metatype);
  for (const [key, member] of Object.entries(value)) {
    if (ANY_CONTROL.test(key)) return 'property names must not contain control characters';
    const found = findIn(member, multiLine.has(key), key);
    if (found) return found;
  }
  return null;
}

/** At most `max` bytes once encoded as UTF-8, which is what reaches an agent's argv, environment and stdin. */
export function MaxUtf8Bytes(max: number, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'maxUtf8Bytes',
      constraints: [max],
      validator: {
        validate: (value: unknown) => typeof value === 'string' && Buffer.byteLength(value, 'utf8') <= max,
        defaultMessage: buildMessage((prefix) => `${prefix}$property must be at most $constraint1 bytes of UTF-8`, options),
      },
    },
    options,
  );
}
