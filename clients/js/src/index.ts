// @flowsync/client: the browser SDK for flowsync. A full workflow CRDT
// replica kept in sync over one websocket, with an IndexedDB outbox so that
// offline edits survive reloads. See README.md for usage.

// The client.
export {
  FlowsyncClient,
  DefaultClientName,
  PresenceIntervalMs,
  type FlowsyncClientOptions,
  type ClientEvents,
  type ClientEventName,
  type User,
  type RosterEntry,
  type PresenceUpdate,
  type PresenceSelection,
  type DragUpdate,
  type LifecycleEvent,
  type NackInfo,
  type ReceiptStats,
  MaxReceiptItems,
  MaxReceiptBytes,
  type WebSocketLike,
  type WebSocketConstructor,
  type PresenceCaret,
  type TextField,
  TextHandle,
  bindTextarea,
  type RemoteCaret,
  type TextChangeEvent,
  type TextDelta,
  type TextHost,
  type TextareaLike,
} from './client/client';
export { type SyncStatus, type SyncState, statusLabel } from './client/status';
export { Backoff } from './client/backoff';
export { type RenameEvent } from './client/renames';
export { type HistoryState } from './client/history';
export { FlowsyncError, ServerError, CloseError, RejectError, type FlowsyncErrorKind } from './client/errors';

// Persistence.
export {
  MemoryPersistence,
  IndexedDBPersistence,
  PersistenceError,
  type Persistence,
  type ReplicaLease,
  type LoadedState,
  type StoredEntry,
  type StoredReceipt,
  type ReceiptKey,
  type ReplicaState,
  type LockManagerLike,
  type IndexedDBOptions,
} from './persist';

// The whole wire protocol (frames, codec) for tools and tests: protocol.encodeFrame, …
export * as protocol from './protocol';
// The wire protocol's vocabulary (codes and close codes an app may branch on).
export {
  Code,
  codeName,
  codeRetryable,
  CloseCode,
  closeReason,
  shouldReconnect,
  ProtocolVersion,
  FrameDecodeError,
  type Point,
  type Role,
} from './protocol';

// The workflow document, its operations and its view.
export { Doc } from './workflow/doc';
export { decode, decodeDelta, DeltaCaps, type Caps } from './workflow/encode';
export { WorkflowError, DecodeError, isError, type ErrorCode } from './workflow/errors';
export { parseOp, parseSubBlockUpdate, parseVariableUpdate, operations, type Payload } from './workflow/parse';
export { buildView } from './workflow/view';
export { renamedBy, type Renamed } from './workflow/names';
export { viewToJSON } from './workflow/json';
export type { Op } from './workflow/builder';
export type {
  View,
  BlockView,
  SubBlockView,
  LoopView,
  ParallelView,
  VariableView,
  ViewValue,
  Edge,
  Position,
} from './workflow/view';
export {
  UpdatePosition,
  UpdateName,
  ToggleEnabled,
  UpdateParent,
  UpdateAdvancedMode,
  UpdateErrorEnabled,
  UpdateRetry,
  UpdateCanonicalMode,
  ReplaceCanonicalModes,
  ToggleHandles,
  UpdateWide,
  UpdateTriggerMode,
  AddBlock,
  RemoveBlock,
  DuplicateBlock,
} from './workflow/ops_block';
export {
  BatchUpdatePositions,
  BatchAddBlocks,
  BatchRemoveBlocks,
  BatchToggleEnabled,
  BatchToggleHandles,
  BatchToggleLocked,
  BatchUpdateParent,
  type BlockInput,
  type SubBlockInput,
  type PositionUpdate,
  type ParentUpdate,
  type SubflowConfigs,
} from './workflow/ops_blocks';
export { AddEdge, BatchAddEdges, RemoveEdge, BatchRemoveEdges, type EdgeInput } from './workflow/ops_edge';
export { UpdateSubBlock, SubBlockBatchUpdate, type SubBlockUpdate } from './workflow/ops_subblock';
export { UpdateSubflow, AddSubflow, RemoveSubflow, DuplicateSubflowWithChildren } from './workflow/ops_subflow';
export { AddVariable, RemoveVariable, UpdateVariable, DuplicateVariable } from './workflow/ops_variable';
export { ReplaceState } from './workflow/ops_workflow';
export { UndoManager, UndoStep, type UndoConfig } from './workflow/undo';
export { InsertText, DeleteText, type TextTarget } from './workflow/ops_text';
export { TextSubBlockTypes, isTextSubBlockType, isTextVariableType } from './workflow/texts';
export { type Anchor } from './crdt/text';
