/**
 * Random and malformed request bodies for the bad-input suite, generated from
 * an endpoint's JSON Schema (so a new endpoint gets structure-aware bodies
 * without anyone writing them) by a seeded PRNG (so a failure replays).
 */

/** sfc32: small, fast, good enough for test data, and fully determined by the seed. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** @param knownUids uids that exist in the system, so some bodies reach past the "not found" refusals */
  constructor(
    seed: number,
    readonly knownUids: readonly string[] = [],
  ) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.next();
  }

  /** uniform in [0, 1) */
  next(): number {
    this.a >>>= 0;
    this.b >>>= 0;
    this.c >>>= 0;
    this.d >>>= 0;
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  int(below: number): number {
    return Math.floor(this.next() * below);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }

  alnum(length: number): string {
    const chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let out = "";
    for (let i = 0; i < length; i++) out += chars[this.int(chars.length)];
    return out;
  }
}

/** The subset of JSON Schema that z.toJSONSchema emits for our contracts. */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  prefixItems?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  format?: string;
}

/** Text spliced into a body as is: tokens JSON does not allow (NaN, Infinity, 0x10) and pre-built deep nesting. */
export class Raw {
  constructor(readonly text: string) {}
}

/** JSON text of a value that may hold Raw pieces; recursion depth is the generator's, never the nesting of a Raw. */
export function toJsonText(value: unknown): string {
  if (value instanceof Raw) return value.text;
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(",")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

export const MB = 1024 * 1024;

/** Uid-shaped and path-shaped strings aimed at every place a uid becomes a file name. */
export const PATH_LIKE_UIDS = [
  "../../etc/passwd",
  "..%2F..%2Fetc%2Fpasswd",
  "%2e%2e/",
  "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
  "/abs",
  "/etc/passwd",
  "C:\\x",
  "C:\\Windows\\win.ini",
  "aaaaaaaaaa/bbbbbbbbbb", // 21 characters with a slash
  "aaaaaaaaaa\\bbbbbbbbbb",
  "aaaaaaaaaaaaaaaaaaa..",
  "....................a",
  "aaaaaaaaaaaaaaaaaaaa\u0000",
  "aaaaaaaaaaaaaaaaaaaa\n",
  "AAAAAAAAAAAAAAAAAAAAAA", // 22
  "AAAAAAAAAAAAAAAAAAAA", // 20
  "volumes/../../secrets",
  "~/.ssh/id_rsa",
  "\\\\server\\share\\x",
];

const NUMBERS: unknown[] = [
  1e308,
  -1e308,
  2 ** 53 + 1,
  -(2 ** 53 + 1),
  Number.MAX_SAFE_INTEGER,
  2 ** 31,
  2 ** 32,
  -1,
  -0.5,
  0,
  0.5,
  1e-308,
  5e-324,
  -2147483649,
  new Raw("NaN"),
  new Raw("Infinity"),
  new Raw("-Infinity"),
  new Raw("1e400"), // valid JSON that parses to Infinity
  new Raw("-1e400"),
  new Raw("0x10"),
  new Raw("+1"),
  new Raw(".5"),
  new Raw("01"),
];

const STRINGS: unknown[] = [
  "",
  " ",
  "NaN",
  "Infinity",
  "-Infinity",
  "1e308",
  "1e400",
  "-1",
  "0x10",
  "null",
  "true",
  "undefined",
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
  "\u0000",
  "\ud800", // lone surrogate
  "\u202e\u0644\u0627",
  "😀".repeat(40),
  "'; DROP TABLE items; --",
  "${jndi:ldap://x}",
  "<script>alert(1)</script>",
  "a".repeat(65),
  "a".repeat(5000),
  "gently.hw.move",
  "_INBOX.plan-runner.x",
  ...PATH_LIKE_UIDS,
];

/** Sets an own property, also for keys such as "__proto__" that plain assignment would turn into a prototype change. */
function put(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

const WRONG_TYPES: unknown[] = [null, true, false, [], {}, [1, 2, 3], { a: 1 }, [null], [{}], [[[]]], "x", 1];

/** A value of the right shape (a body built only from these may pass its schema). */
export function validValue(schema: JsonSchema, rng: Rng, depth = 0): unknown {
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return rng.pick(schema.enum);
  const branches = schema.oneOf ?? schema.anyOf;
  if (branches?.length) return validValue(rng.pick(branches), rng, depth);
  if (schema.allOf?.length) return validValue(schema.allOf[0]!, rng, depth);
  const type = Array.isArray(schema.type) ? rng.pick(schema.type) : schema.type;
  switch (type) {
    case "object": {
      const out: Record<string, unknown> = {};
      const required = new Set(schema.required ?? []);
      for (const [key, sub] of Object.entries(schema.properties ?? {})) {
        if (required.has(key) || rng.chance(0.5)) put(out, key, validValue(sub, rng, depth + 1));
      }
      if (!schema.properties && schema.additionalProperties && depth < 3 && rng.chance(0.5)) {
        put(out, rng.alnum(6), rng.pick([1, "x", true, null, { k: [1, 2] }]));
      }
      return out;
    }
    case "array": {
      if (schema.prefixItems) return schema.prefixItems.map((s) => validValue(s, rng, depth + 1));
      const min = schema.minItems ?? 0;
      const max = Math.min(schema.maxItems ?? min + 3, min + 3);
      const n = min + rng.int(max - min + 1);
      return Array.from({ length: n }, () => (schema.items ? validValue(schema.items, rng, depth + 1) : rng.int(10)));
    }
    case "string":
      return validString(schema, rng);
    case "integer":
    case "number": {
      const lo = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : -100);
      const hi = Math.max(lo, Math.min(schema.maximum ?? lo + 200, lo + 200));
      const n = lo + rng.next() * (hi - lo);
      return type === "integer" ? Math.round(Math.min(Math.max(n, Math.ceil(lo)), Math.floor(hi))) : n;
    }
    case "boolean":
      return rng.chance(0.5);
    case "null":
      return null;
    default:
      return rng.pick([1, "x", true, null, {}]);
  }
}

function validString(schema: JsonSchema, rng: Rng): string {
  if (schema.format === "date-time") return new Date(Date.UTC(2020, 0, 1) + rng.int(2e11)).toISOString();
  if (schema.pattern === "^[0-9A-Za-z]{21}$") return rng.knownUids.length && rng.chance(0.3) ? rng.pick(rng.knownUids) : rng.alnum(21);
  if (schema.pattern?.startsWith("^[A-Za-z0-9._-]+$")) return `fuzz-${rng.alnum(6)}`;
  const min = schema.minLength ?? 0;
  const max = Math.min(schema.maxLength ?? min + 12, min + 12);
  return rng.alnum(Math.max(min, min + rng.int(max - min + 1)));
}

/** A value that is wrong somehow: out of range, of another type, a token JSON forbids, huge or path-like. */
export function badValue(schema: JsonSchema, rng: Rng): unknown {
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  const roll = rng.next();
  if (roll < 0.3 && (type === "number" || type === "integer")) {
    const edges: unknown[] = [];
    if (schema.minimum !== undefined) edges.push(schema.minimum - 1, schema.minimum - 1e-9);
    if (schema.maximum !== undefined) edges.push(schema.maximum + 1, schema.maximum + 1e-9);
    if (schema.exclusiveMinimum !== undefined) edges.push(schema.exclusiveMinimum);
    if (type === "integer") edges.push(1.5, -0.25);
    return rng.pick([...edges, ...NUMBERS]);
  }
  if (roll < 0.3 && type === "string") {
    if (schema.maxLength !== undefined) return rng.chance(0.3) ? "x".repeat(schema.maxLength + 1) : rng.pick(STRINGS);
    return rng.pick(STRINGS);
  }
  if (roll < 0.3 && type === "array") {
    const max = schema.maxItems;
    return rng.pick([[], max !== undefined ? Array.from({ length: max + 1 }, () => 1) : [1], Array.from({ length: 10_000 }, () => 0)]);
  }
  if (roll < 0.5) return rng.pick(NUMBERS);
  if (roll < 0.7) return rng.pick(STRINGS);
  // a copy: a later mutation may write into it, and the pool must stay the same for every body
  if (roll < 0.95) return structuredClone(rng.pick(WRONG_TYPES));
  return deepValue(rng);
}

function deepValue(rng: Rng): Raw {
  const depth = rng.pick([100, 5_000, 100_000]);
  return rng.chance(0.5) ? new Raw("[".repeat(depth) + "]".repeat(depth)) : new Raw('{"a":'.repeat(depth) + "1" + "}".repeat(depth));
}

/** Paths (as key lists) of every property a schema describes, nested objects included. */
function propertyPaths(schema: JsonSchema, prefix: string[] = []): { path: string[]; schema: JsonSchema }[] {
  const branches = schema.oneOf ?? schema.anyOf;
  if (branches?.length) return propertyPaths(branches[0]!, prefix);
  const out: { path: string[]; schema: JsonSchema }[] = [];
  for (const [key, sub] of Object.entries(schema.properties ?? {})) {
    out.push({ path: [...prefix, key], schema: sub });
    if (prefix.length < 3) out.push(...propertyPaths(sub, [...prefix, key]));
  }
  return out;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = Object.hasOwn(node, key) ? node[key] : undefined;
    if (next === null || typeof next !== "object" || Array.isArray(next) || next instanceof Raw) put(node, key, {});
    node = node[key] as Record<string, unknown>;
  }
  put(node, path[path.length - 1]!, value);
}

function deletePath(target: Record<string, unknown>, path: string[]): void {
  let node: unknown = target;
  for (const key of path.slice(0, -1)) {
    node = Object.hasOwn(node as object, key) ? (node as Record<string, unknown>)[key] : undefined;
    if (node === null || typeof node !== "object") return;
  }
  delete (node as Record<string, unknown>)[path[path.length - 1]!];
}

/** A body close to valid with one to three things wrong with it (or, now and then, nothing). */
export function mutatedBody(schema: JsonSchema, rng: Rng): unknown {
  // one alternative of a union (an axis of a move, a plan of a submit), so the mutations hit its own fields
  const alternatives = schema.oneOf ?? schema.anyOf;
  if (alternatives?.length) schema = rng.pick(alternatives);
  const base = validValue(schema, rng);
  if (base === null || typeof base !== "object" || Array.isArray(base)) return base;
  const body = base as Record<string, unknown>;
  const paths = propertyPaths(schema);
  const mutations = rng.chance(0.1) ? 0 : 1 + rng.int(3);
  for (let i = 0; i < mutations; i++) {
    const roll = rng.next();
    const target = paths.length ? rng.pick(paths) : undefined;
    if (target && roll < 0.55) setPath(body, target.path, badValue(target.schema, rng));
    else if (target && roll < 0.7) deletePath(body, target.path);
    else if (roll < 0.85) put(body, rng.pick(["extra", "__proto__", "constructor", "prototype", rng.alnum(8), ""]), badValue({}, rng));
    else if (target) setPath(body, target.path, validValue(rng.pick(paths).schema, rng)); // a field of another field's type
  }
  return body;
}

export interface FuzzBody {
  /** what kind of bad input, for the report */
  kind: string;
  data: Uint8Array;
}

const utf8 = (text: string) => new TextEncoder().encode(text);

/** Bodies that are wrong as a whole: not JSON, not UTF-8, not an object, nested too deep, too big. */
export function malformedBody(schema: JsonSchema, rng: Rng): FuzzBody {
  const valid = () => toJsonText(validValue(schema, rng));
  const choices: (() => FuzzBody)[] = [
    () => ({ kind: "empty", data: new Uint8Array(0) }),
    () => ({ kind: "not-json", data: Uint8Array.from({ length: 1 + rng.int(200) }, () => rng.int(256)) }),
    () => ({ kind: "invalid-utf8", data: Buffer.concat([Buffer.from('{"'), Buffer.from([0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0, 0x80]), Buffer.from('":1}')]) }),
    () => ({ kind: "invalid-utf8", data: Buffer.concat([utf8(valid().slice(0, -1)), Buffer.from(`,"k${rng.int(9)}":"`), Buffer.from([0x80, 0xbf, 0xf8, 0x88]), Buffer.from('"}')]) }),
    () => ({ kind: "json-primitive", data: utf8(rng.pick(["null", "0", "-1", "1e308", '"x"', "true", "false", '""'])) }),
    () => ({ kind: "array-not-object", data: utf8(rng.chance(0.5) ? `[${valid()}]` : "[]") }),
    () => ({ kind: "json-invalid-token", data: utf8(rng.pick(["NaN", "Infinity", "-Infinity", "undefined", "{'a':1}", "{a:1}", '{"a":1,}', '{"a":', '{"a":1}}', "{}garbage", "\u0000", '{"a":0x10}', '{"a":NaN}', '{"a":Infinity}'])) }),
    () => ({ kind: "truncated", data: utf8(valid().slice(0, Math.max(1, rng.int(valid().length)))) }),
    () => ({ kind: "duplicate-keys", data: utf8(valid().replace(/^\{/, `{"${rng.pick(Object.keys(schema.properties ?? { a: 1 }))}":${toJsonText(badValue({}, rng))},`)) }),
    () => ({ kind: "proto-pollution", data: utf8(`{"__proto__":{"polluted":true,"admin":true},"constructor":{"prototype":{"polluted":true}}${valid().length > 2 ? "," + valid().slice(1) : "}"}`) }),
    () => {
      const depth = rng.pick([1_000, 10_000, 200_000]);
      return { kind: "deep-nesting", data: utf8(rng.chance(0.5) ? "[".repeat(depth) + "]".repeat(depth) : '{"a":'.repeat(depth) + "1" + "}".repeat(depth)) };
    },
    () => ({ kind: "bom-and-whitespace", data: utf8(`\ufeff \n\t${valid()}\n `) }),
  ];
  return rng.pick(choices)();
}

/** A body near the server's 8 MB max_payload: ~1 MB arrives, 10 MB is refused at publish. */
export function hugeBody(schema: JsonSchema, rng: Rng, bytes: number): FuzzBody {
  const base = (mutatedBody(schema, rng) ?? {}) as Record<string, unknown>;
  const body = typeof base === "object" && !Array.isArray(base) ? base : {};
  const keys = Object.keys(schema.properties ?? {});
  put(body, keys.length && rng.chance(0.7) ? rng.pick(keys) : "padding", "x".repeat(bytes));
  return { kind: bytes > 8 * MB ? "10MB-string" : "1MB-string", data: utf8(toJsonText(body)) };
}

/**
 * Body number `index` of an endpoint's fuzz series, built from its own seed
 * so it can be made just before it is sent (never all of them in memory at
 * once) and still be the same body for the same seed: two of ~1 MB, one of
 * 10 MB, then mostly near-valid bodies with something wrong and a share
 * broken as a whole.
 */
export function fuzzBody(schema: JsonSchema, seed: number, index: number, knownUids: readonly string[] = []): FuzzBody {
  const rng = new Rng(seed, knownUids);
  if (index === 0) return hugeBody(schema, rng, MB);
  if (index === 1) return hugeBody(schema, rng, MB + 17);
  if (index === 2) return hugeBody(schema, rng, 10 * MB);
  if (rng.chance(0.3)) return malformedBody(schema, rng);
  return { kind: "mutated", data: utf8(toJsonText(mutatedBody(schema, rng))) };
}
