// Port of crdt/workflow/ops_workflow.go: whole-graph replacement.

import type { Builder, Op } from './builder';
import { KindVariable, KindVariableField } from './doc';
import { edgeValue } from './fields';
import { checkID, keysWhere, writeBlock, type BlockInput, type SubflowConfigs } from './ops_common';
import { edgeOfInput, sigOf, type EdgeInput } from './ops_edge';
import { writeSubflowConfig } from './subflow_config';
import { edgeKey } from './state';
import { errorf, hasOwn, q, sortedKeys } from './util';

/**
 * "replace-state": replaces the whole graph: every block with its fields,
 * sub-blocks and subflow config, and every edge, is removed, then blocks,
 * edges, loops and parallels are written. Variables are untouched.
 *
 * As in the reference there is no name, scope, cycle or lock validation;
 * edges are only canonicalized and de-duplicated, and edges with an end
 * outside the new blocks are dropped. loops and parallels entries for ids
 * that are not new blocks are dropped too. It fails with Invalid for a block
 * without a position or type, or whose map key and id differ.
 */
export class ReplaceState implements Op {
  readonly blocks: Record<string, BlockInput>;
  readonly edges: EdgeInput[];
  readonly loops: SubflowConfigs | undefined;
  readonly parallels: SubflowConfigs | undefined;
  constructor(
    init: { blocks?: Record<string, BlockInput>; edges?: EdgeInput[]; loops?: SubflowConfigs; parallels?: SubflowConfigs } = {},
  ) {
    this.blocks = init.blocks ?? {};
    this.edges = init.edges ?? [];
    this.loops = init.loops;
    this.parallels = init.parallels;
  }
  name(): string {
    return 'replace-state';
  }
  prepare(b: Builder): void {
    const blocks = this.sortedBlocks();
    removeGraph(b);
    for (const inp of blocks) writeBlock(b, inp);
    for (const cfgs of [this.loops, this.parallels]) {
      for (const id of sortedKeys(cfgs)) {
        if (!hasOwn(this.blocks, id)) continue;
        writeSubflowConfig(b, id, (cfgs as SubflowConfigs)[id]);
      }
    }
    writeStateEdges(b, this.edges, this.blocks);
  }

  /** Validates the new blocks and returns them sorted by id (Go's blocks()). */
  private sortedBlocks(): BlockInput[] {
    const out: BlockInput[] = [];
    for (const id of sortedKeys(this.blocks)) {
      let inp = this.blocks[id];
      if (!inp.id) inp = { ...inp, id };
      checkID('block', inp.id);
      if (inp.id !== id) {
        throw errorf('Invalid', `block ${q(inp.id)} listed under ${q(id)}`);
      }
      if (inp.position === undefined) {
        throw errorf('Invalid', `block ${q(id)} has no position`);
      }
      if (!inp.type) {
        throw errorf('Invalid', `block ${q(id)} has no type`);
      }
      out.push(inp);
    }
    return out;
  }
}

/**
 * Removes every key of the graph part of the document (blocks, their fields,
 * sub-blocks, subflows and edges), including orphans left by concurrent
 * edits, and leaves variables.
 */
export function removeGraph(b: Builder): void {
  const keys = keysWhere(b, (k) => k.kind !== KindVariable && k.kind !== KindVariableField);
  for (const k of keys) b.remove(k);
}

/**
 * Writes replace-state edges: canonicalized, the first of each duplicate (by
 * id or by ends and handles) kept, those with an end outside blocks dropped.
 */
export function writeStateEdges(b: Builder, edges: EdgeInput[], blocks: Record<string, BlockInput>): void {
  const ids = new Set<string>();
  const sigs = new Set<string>();
  for (const inp of edges) {
    const e = edgeOfInput(inp);
    checkID('edge', e.id);
    if (!hasOwn(blocks, e.source) || !hasOwn(blocks, e.target) || ids.has(e.id) || sigs.has(sigOf(e))) continue;
    ids.add(e.id);
    sigs.add(sigOf(e));
    b.put(edgeKey(e.id), edgeValue(e));
  }
}
