// Local persistence of documents and outboxes (IndexedDB in browsers,
// memory elsewhere).
export * from './types';
export { MemoryPersistence } from './memory';
export { IndexedDBPersistence, type IndexedDBOptions } from './indexeddb';
