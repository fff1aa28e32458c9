// The hooks: each reads one of the provider's stores through
// useSyncExternalStore and a selector, and re-renders its component only
// when what the selector returns changed (compared structurally, see
// share.ts), not at every change of the document.

import { useEffect, useMemo, useRef, useSyncExternalStore } from 'react';
import type { BlockView, ClientEventName, ClientEvents, Doc, FlowsyncClient, Op, Point, PresenceSelection, View } from '../index';
import { useStore } from './provider';
import { share } from './share';
import type { FlowsyncPresence, FlowsyncStatus, Topic } from './store';

/** isEqual decides whether a selected value is unchanged; the default compares structurally. */
export type Equality<T> = (a: T, b: T) => boolean;

/**
 * useSelected subscribes to topic and returns selector(value). The result
 * keeps its identity while it is equal to the previous one (structurally,
 * or by isEqual), so the component re-renders only when its slice changed;
 * the selector may be a new function at every render.
 */
function useSelected<S, T>(topic: Topic<S>, selector: (s: S) => T, isEqual?: Equality<T>): T {
  const memo = useRef<{ source: S; selector: (s: S) => T; value: T } | null>(null);
  const getSnapshot = (): T => {
    const source = topic.get();
    const m = memo.current;
    if (m && m.source === source && m.selector === selector) return m.value;
    const next = selector(source);
    let value = next;
    if (m) value = isEqual ? (isEqual(m.value, next) ? m.value : next) : share(m.value, next);
    memo.current = { source, selector, value };
    return value;
  };
  return useSyncExternalStore(topic.subscribe, getSnapshot, getSnapshot);
}

const identity = <T>(x: T): T => x;

/**
 * useWorkflow returns the workflow's view, or the part of it selector
 * picks: `useWorkflow((v) => v.order)`. The component re-renders when
 * that part changed, whether by a local edit, another window's delta or a
 * reset; parts that did not change keep their identity, so they can be
 * passed to memoized children. Without a selector the whole view is
 * returned (a component using it re-renders at every change).
 */
export function useWorkflow(): View;
export function useWorkflow<T>(selector: (view: View) => T, isEqual?: Equality<T>): T;
export function useWorkflow<T>(selector?: (view: View) => T, isEqual?: Equality<T>): T | View {
  const store = useStore();
  return useSelected(store.view, selector ?? (identity as (v: View) => T), isEqual);
}

/** useBlock returns one visible block (undefined when there is none by that id) and re-renders only when it changes. */
export function useBlock(id: string): BlockView | undefined {
  // Object.hasOwn: the view's records have no prototype, but an app may pass any string.
  return useWorkflow((v) => (Object.hasOwn(v.blocks, id) ? v.blocks[id] : undefined));
}

/** useStatus returns the connection and sync status (online, syncing, saved, pending, role, …) and re-renders when it changes. */
export function useStatus(): FlowsyncStatus;
export function useStatus<T>(selector: (status: FlowsyncStatus) => T, isEqual?: Equality<T>): T;
export function useStatus<T>(selector?: (status: FlowsyncStatus) => T, isEqual?: Equality<T>): T | FlowsyncStatus {
  const store = useStore();
  return useSelected(store.status, selector ?? (identity as (s: FlowsyncStatus) => T), isEqual);
}

/**
 * usePresence returns who is in the room (roster, others, this session's
 * id) with their cursors and selections, or the part selector picks:
 * `usePresence((p) => p.others.filter((r) => r.sel?.id === blockId))`.
 */
export function usePresence(): FlowsyncPresence;
export function usePresence<T>(selector: (presence: FlowsyncPresence) => T, isEqual?: Equality<T>): T;
export function usePresence<T>(selector?: (presence: FlowsyncPresence) => T, isEqual?: Equality<T>): T | FlowsyncPresence {
  const store = useStore();
  return useSelected(store.presence, selector ?? (identity as (p: FlowsyncPresence) => T), isEqual);
}

/**
 * What useUndo returns: whether undo and redo have a step, and the calls
 * (bound to the provider's client, the same functions at every render).
 */
export interface FlowsyncUndo {
  canUndo: boolean;
  canRedo: boolean;
  /** Reverts this page's newest step; undefined when there is none (see FlowsyncClient.undo). */
  undo(): Doc | undefined;
  redo(): Doc | undefined;
  /** Makes every edit fn applies one undo step. */
  transact<T>(fn: () => T): T;
  stopCapturing(): void;
}

/**
 * useUndo returns undo and redo of this page's own edits, and re-renders
 * its component when canUndo or canRedo changes: bind toolbar buttons and
 * keyboard shortcuts to it.
 */
export function useUndo(): FlowsyncUndo {
  const store = useStore();
  const client = store.client;
  const state = useSelected(store.history, identity);
  const calls = useMemo(
    () => ({
      undo: () => client.undo(),
      redo: () => client.redo(),
      transact: <T>(fn: () => T): T => client.transact(fn),
      stopCapturing: () => client.stopCapturing(),
    }),
    [client],
  );
  return useMemo(() => ({ ...state, ...calls }), [state, calls]);
}

/** useFlowsyncClient returns the provider's client, for what the hooks do not cover. */
export function useFlowsyncClient(): FlowsyncClient {
  return useStore().client;
}

/**
 * The client's editing and connection calls, bound to the provider's
 * client. The object is the same at every render (for dependency lists).
 * apply and applyWire throw as FlowsyncClient.apply does (a WorkflowError
 * when the operation is refused locally; nothing changes then).
 */
export interface FlowsyncOperations {
  apply(op: Op): void;
  applyWire(name: string, target: string, payload: Record<string, unknown>): void;
  setPresence(p: { cursor?: Point | null; selection?: PresenceSelection }): void;
  drag(positions: Record<string, Point>): void;
  goOnline(): void;
  goOffline(): void;
  reset(): void;
  whenSaved(): Promise<void>;
}

/** useOperations returns the calls that edit the workflow and steer the connection. */
export function useOperations(): FlowsyncOperations {
  const client = useFlowsyncClient();
  return useMemo(
    () => ({
      apply: (op) => void client.apply(op),
      applyWire: (name, target, payload) => void client.applyWire(name, target, payload),
      setPresence: (p) => client.setPresence(p),
      drag: (positions) => client.drag(positions),
      goOnline: () => client.goOnline(),
      goOffline: () => client.goOffline(),
      reset: () => client.reset(),
      whenSaved: () => client.whenSaved(),
    }),
    [client],
  );
}

/**
 * useClientEvent calls handler for each of the client's events of one kind
 * ('reject', 'error', 'event', 'rename', 'drag', …) while the component is
 * mounted; the latest handler is called, so it may be a new function at
 * every render without resubscribing.
 */
export function useClientEvent<K extends ClientEventName>(event: K, handler: ClientEvents[K]): void {
  const client = useFlowsyncClient();
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => {
    const fn = ((...args: Parameters<ClientEvents[K]>) =>
      (latest.current as (...a: Parameters<ClientEvents[K]>) => void)(...args)) as ClientEvents[K];
    return client.on(event, fn);
  }, [client, event]);
}
