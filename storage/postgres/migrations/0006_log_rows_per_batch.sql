-- One log row per room write instead of one per operation: a room joins
-- the deltas of a write into one delta (storage.Merged), and the row keeps
-- how many operations that join covers. Rows written before this
-- migration hold one operation's delta each, which is what the default
-- says; they load as they did (adding a column with a constant default
-- does not rewrite the table).
ALTER TABLE flowsync_log ADD COLUMN ops integer NOT NULL DEFAULT 1 CHECK (ops >= 1);

-- Snapshots delete the rows they joined, so the log is a queue: rows live
-- seconds, and the space of deleted ones is only reused once a vacuum has
-- passed. The server's default waits for dead rows to reach 20% of the
-- table plus 50, which a table this small passes at every autovacuum
-- round anyway, and a large one (after an outage) far too late; a fixed
-- threshold vacuums it whenever a thousand rows died, so it holds about
-- its live rows plus one autovacuum round of writes (BENCHMARKS.md
-- "Storage").
ALTER TABLE flowsync_log SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
