-- Workflow locks (storage.LockStore): the latest lock change of a
-- workflow, kept apart from its document. at_ms orders changes made on
-- different nodes (the later wins; at the same millisecond, the lock).
CREATE TABLE flowsync_locks (
    workflow_id text    PRIMARY KEY CHECK (octet_length(workflow_id) BETWEEN 1 AND 256),
    locked      boolean NOT NULL,
    at_ms       bigint  NOT NULL
);
