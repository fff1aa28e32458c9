// The config of loop and parallel containers (Go: the config rules of
// ops_subflow.go): its keys, defaults and value rules, and how it is
// written. Below the operation modules, because adding blocks writes it
// (ops_blocks.ts) as well as the subflow operations (ops_subflow.ts).

import type { Builder } from './builder';
import { putAny, type SubflowConfigs } from './ops_common';
import { TypeLoop, TypeParallel, subflowKey } from './state';
import { errorf, hasOwn, own, q, show, sortedKeys } from './util';

// Subflow config keys with rules of their own.
export const cfgLoopType = 'loopType';
export const cfgParallelType = 'parallelType';
export const cfgBatchSize = 'batchSize';
/** Derived from the children's parentId and never stored. */
export const cfgNodes = 'nodes';
/** Repeats the container id the config is stored under. */
export const cfgID = 'id';

// batchSize bounds, applied whenever a batch size is written.
export const minBatchSize = 1;
export const maxBatchSize = 20;

/** The config a new container gets when none is given. */
export function subflowDefaults(type: string): Record<string, unknown> | undefined {
  switch (type) {
    case TypeLoop:
      return { [cfgLoopType]: 'for', iterations: 5 };
    case TypeParallel:
      return { [cfgParallelType]: 'count', count: 5, [cfgBatchSize]: maxBatchSize };
  }
  return undefined;
}

/**
 * Writes the config of a block just added: the given one from loops or
 * parallels (by block type) or the defaults. Non-containers get none.
 */
export function writeNewSubflow(
  b: Builder,
  id: string,
  type: string,
  loops: SubflowConfigs | undefined,
  parallels: SubflowConfigs | undefined,
): void {
  let given: Record<string, unknown> | undefined;
  let ok: boolean;
  switch (type) {
    case TypeLoop:
      ok = hasOwn(loops, id);
      given = own(loops, id);
      break;
    case TypeParallel:
      ok = hasOwn(parallels, id);
      given = own(parallels, id);
      break;
    default:
      return;
  }
  if (!ok) given = subflowDefaults(type);
  writeSubflowConfig(b, id, given);
}

/**
 * Validates config and writes it key by key (a shallow merge over what is
 * stored). It fails with Invalid for an unknown loop or parallel type or a
 * non-numeric batch size.
 */
export function writeSubflowConfig(b: Builder, id: string, config: Record<string, unknown> | undefined): void {
  for (const k of sortedKeys(config)) {
    if (k === cfgNodes || k === cfgID) continue;
    if (k === '') {
      throw errorf('Invalid', `subflow ${q(id)}: empty config key`);
    }
    let v: unknown;
    try {
      v = subflowValue(k, (config as Record<string, unknown>)[k]);
    } catch (err) {
      throw errorf('Invalid', `subflow ${q(id)}: ${(err as Error).message}`);
    }
    putAny(b, subflowKey(id, k), v);
  }
}

/** Checks and normalizes one config value. */
export function subflowValue(k: string, v: unknown): unknown {
  switch (k) {
    case cfgLoopType:
      if (v !== 'for' && v !== 'forEach' && v !== 'while' && v !== 'doWhile') {
        throw errorf('Invalid', `loopType ${show(v)}, want for, forEach, while or doWhile`);
      }
      break;
    case cfgParallelType:
      if (v !== 'count' && v !== 'collection') {
        throw errorf('Invalid', `parallelType ${show(v)}, want count or collection`);
      }
      break;
    case cfgBatchSize: {
      const [f, ok] = toFloat(v);
      if (!ok) {
        throw errorf('Invalid', `batchSize ${show(v)} is not a number`);
      }
      // Go's math.Round rounds halves away from zero, Math.round towards +∞;
      // they differ only on negative halves, which the clamp maps to 1 alike.
      return Math.min(Math.max(Math.round(f), minBatchSize), maxBatchSize);
    }
  }
  return v;
}

/**
 * Reads a JSON number: [value, ok]. NaN and infinities are not numbers (Go's
 * toFloat refuses them for float64); a bigint (a decoded integer beyond 2^53)
 * reads as its nearest number, as Go converts int64 and uint64.
 */
export function toFloat(v: unknown): [number, boolean] {
  if (typeof v === 'number') return Number.isFinite(v) ? [v, true] : [0, false];
  if (typeof v === 'bigint') return [Number(v), true];
  return [0, false];
}
