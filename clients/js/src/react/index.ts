// @flowsync/client/react: React bindings for the SDK. A provider that holds
// one client, and hooks built on useSyncExternalStore that re-render a
// component only when the part of the workflow, status or presence it reads
// changed. React (18 or later) is an optional peer dependency of the
// package: only this entry point imports it.

export {
  FlowsyncProvider,
  type FlowsyncProviderProps,
  type FlowsyncProviderClientProps,
  type FlowsyncProviderOptionsProps,
} from './provider';
export {
  useWorkflow,
  useBlock,
  useStatus,
  usePresence,
  useOperations,
  useClientEvent,
  useFlowsyncClient,
  useUndo,
  type Equality,
  type FlowsyncOperations,
  type FlowsyncUndo,
} from './hooks';
export { useText, type FlowsyncText } from './text';
export type { FlowsyncStatus, FlowsyncPresence } from './store';
export { share } from './share';
