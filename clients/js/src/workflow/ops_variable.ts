// Port of crdt/workflow/ops_variable.go: workflow variables.

import type { Builder, Op } from './builder';
import { KindVariable, KindVariableField } from './doc';
import { VarFieldName, VarFieldType, VarFieldValue, asString, stringValue } from './fields';
import { entity } from './doc_index';
import { entityKeysWhere } from './doc_index_reads';
import { checkID, putAny } from './ops_common';
import { copyValue } from './text_write';
import { variableFieldKey, variableKey } from './state';
import { errorf, q } from './util';

/**
 * "add" on target variable: adds a workflow variable. value defaults to the
 * empty string. It fails with Invalid (empty id) or Exists. The variable's
 * name is varName (a field cannot share the name() method's name).
 */
export class AddVariable implements Op {
  readonly id: string;
  readonly varName: string;
  readonly type: string;
  readonly value: unknown;
  constructor(init: { id?: string; varName?: string; type?: string; value?: unknown } = {}) {
    this.id = init.id ?? '';
    this.varName = init.varName ?? '';
    this.type = init.type ?? '';
    this.value = init.value ?? null;
  }
  name(): string {
    return 'add';
  }
  prepare(b: Builder): void {
    checkID('variable', this.id);
    if (b.has(variableKey(this.id))) {
      throw errorf('Exists', `variable ${q(this.id)}`);
    }
    const v = this.value === null ? '' : this.value;
    b.put(variableKey(this.id), null);
    b.put(variableFieldKey(this.id, VarFieldName), stringValue(this.varName));
    b.put(variableFieldKey(this.id, VarFieldType), stringValue(this.type));
    putAny(b, variableFieldKey(this.id, VarFieldValue), v);
  }
}

/** "remove" on target variable: removes a variable and its fields. It fails with UnknownVariable. */
export class RemoveVariable implements Op {
  readonly id: string;
  constructor(init: { id?: string } = {}) {
    this.id = init.id ?? '';
  }
  name(): string {
    return 'remove';
  }
  prepare(b: Builder): void {
    knownVariable(b, this.id);
    const keys = entityKeysWhere(b, entity(KindVariable, this.id), (k) => (k.kind === KindVariable || k.kind === KindVariableField) && k.id === this.id);
    for (const k of keys) b.remove(k);
  }
}

export function knownVariable(b: Builder, id: string): void {
  checkID('variable', id);
  if (!b.has(variableKey(id))) {
    throw errorf('UnknownVariable', `variable ${q(id)}`);
  }
}

/**
 * "variable-update" (its own event in the reference): sets one field: name,
 * type (strings) or value. It fails with Invalid (other field, non-string
 * name or type) or UnknownVariable; a missing variable is never created.
 */
export class UpdateVariable implements Op {
  readonly id: string;
  readonly field: string;
  readonly value: unknown;
  constructor(init: { id?: string; field?: string; value?: unknown } = {}) {
    this.id = init.id ?? '';
    this.field = init.field ?? '';
    this.value = init.value ?? null;
  }
  name(): string {
    return 'variable-update';
  }
  prepare(b: Builder): void {
    switch (this.field) {
      case VarFieldName:
      case VarFieldType:
        if (typeof this.value !== 'string') {
          throw errorf('Invalid', `variable ${q(this.id)}: ${this.field} must be a string`);
        }
        break;
      case VarFieldValue:
        break;
      default:
        throw errorf('Invalid', `variable ${q(this.id)}: unknown field ${q(this.field)}`);
    }
    knownVariable(b, this.id);
    putAny(b, variableFieldKey(this.id, this.field), this.value);
  }
}

/**
 * "duplicate" on target variable (legacy): copies a variable to a new id,
 * named "<name> (copy)". It fails with UnknownVariable, Invalid or Exists.
 */
export class DuplicateVariable implements Op {
  readonly sourceId: string;
  readonly id: string;
  constructor(init: { sourceId?: string; id?: string } = {}) {
    this.sourceId = init.sourceId ?? '';
    this.id = init.id ?? '';
  }
  name(): string {
    return 'duplicate';
  }
  prepare(b: Builder): void {
    knownVariable(b, this.sourceId);
    checkID('variable', this.id);
    if (b.has(variableKey(this.id))) {
      throw errorf('Exists', `variable ${q(this.id)}`);
    }
    b.put(variableKey(this.id), null);
    for (const f of [VarFieldType, VarFieldValue]) {
      const k = variableFieldKey(this.sourceId, f);
      if (b.has(k)) copyValue(b, k, variableFieldKey(this.id, f));
    }
    const name = asString(b.get(variableFieldKey(this.sourceId, VarFieldName)));
    b.put(variableFieldKey(this.id, VarFieldName), stringValue(name + ' (copy)'));
  }
}
