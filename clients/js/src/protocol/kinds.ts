// The vocabulary of the frame schema (schema.ts, generated from the Go
// tables in sync/protocol/schema.go): what a field's msgpack type is, which
// bound its value must respect, and how records nest. codec.ts interprets
// it, as the Go codec interprets the same tables.

/**
 * A field's msgpack type, and the JavaScript value that holds it:
 * `str` string; `uint`, `int`, `float` number (`float` accepts any numeric
 * form); `bool` boolean; `bin` Uint8Array; `code` an error code, a uint of at
 * most 16 bits; `record` a map with its own RecordSchema, an object;
 * `recordOrNil` the same or nil, an object or null; `list` an array of
 * `elem`; `dict` a map from string keys to records; `payload` a JSON-shaped
 * map written canonically (PROTOCOL.md §7.6).
 */
export type Kind = 'str' | 'uint' | 'int' | 'bool' | 'float' | 'bin' | 'code' | 'record' | 'recordOrNil' | 'list' | 'dict' | 'payload';

/**
 * The bound on a value, checked by both encodeFrame and decodeFrame: `id` at
 * most MaxIDBytes of UTF-8 and not empty when required; `text` at most `max`
 * bytes of UTF-8; `enum` one of `values`; `nonZero` not 0; `nonEmpty` not an
 * empty bin or list; on a record, `finite` (x and y are finite numbers) and
 * `selection` (an id exactly when a block or edge is selected).
 */
export type Rule = 'id' | 'text' | 'enum' | 'nonZero' | 'nonEmpty' | 'finite' | 'selection';

/** One value: a record's field, or a list's elements. */
export interface ValueSchema {
  readonly kind: Kind;
  /** Required on the wire; an optional key's nil reads as absent. */
  readonly required: boolean;
  readonly rule?: Rule;
  /** rule `text`: most bytes. */
  readonly max?: number;
  /** rule `enum`: the allowed values. */
  readonly values?: readonly string[];
  /** kind `list`: the elements. */
  readonly elem?: ValueSchema;
  /** kinds `record`, `recordOrNil`, `dict`, and `list` of records (on elem): the nested map. */
  readonly record?: RecordSchema;
}

/** One key of a record. */
export interface FieldSchema extends ValueSchema {
  /** The wire key. */
  readonly key: string;
  /** The property of the JavaScript object. */
  readonly prop: string;
}

/** The schema of a frame body or of a map nested in one, keys in wire order. */
export interface RecordSchema {
  readonly name: string;
  /** A rule over the whole record. */
  readonly rule?: Rule;
  readonly fields: readonly FieldSchema[];
}
