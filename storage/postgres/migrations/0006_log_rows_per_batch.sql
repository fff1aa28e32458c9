-- One log row per room write instead of one per operation: a room joins
-- the deltas of a write into one delta (storage.Merged), and the row keeps
-- how many operations that join covers. Rows written before this
-- migration hold one operation's delta each, which is what the default
-- says; they load as they did (adding a column with a constant default
-- does not rewrite the table).
ALTER TABLE flowsync_log ADD COLUMN ops integer NOT NULL DEFAULT 1 CHECK (ops >= 1);
