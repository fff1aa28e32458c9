-- Checkpoints (storage.CheckpointStore): copies of a workflow's document
-- at points in its history. meta is the JSON of authors and summary;
-- state the snapshot frame (storecodec), already compressed, so stored out
-- of line without a pglz pass. name is '' for an automatic checkpoint.
CREATE TABLE flowsync_checkpoints (
    workflow_id text   NOT NULL CHECK (octet_length(workflow_id) BETWEEN 1 AND 256),
    id          bigint GENERATED ALWAYS AS IDENTITY,
    at_ms       bigint NOT NULL,
    name        text   NOT NULL DEFAULT '',
    meta        jsonb  NOT NULL,
    state       bytea  NOT NULL,
    PRIMARY KEY (workflow_id, id)
);
ALTER TABLE flowsync_checkpoints ALTER COLUMN state SET STORAGE EXTERNAL;
