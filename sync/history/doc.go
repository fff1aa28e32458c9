// Package history keeps a workflow's version history: checkpoints, copies
// of its document that the server makes on its own after edits
// (automatic) or on request (named, e.g. "deployed"), in the store's
// storage.CheckpointStore, and the restore of one as an ordinary edit.
//
// Automatic checkpoints follow the edits rooms report durable
// (Manager.Notify, rooms.Config.OnDurable): a workflow's window opens at
// its first edit after a checkpoint and closes after Config.Quiet without
// an edit, or Config.Interval after it opened, whichever is first, but
// never sooner than Interval after the workflow's previous automatic
// checkpoint. So a workflow gets at most one automatic checkpoint per
// Interval, one per Interval while it is edited without pause, and its
// last edits are checkpointed at most max(Quiet, Interval) after they
// were made. A window whose document shows no change against the
// previous checkpoint (edits undone, a block moved back) makes none.
//
// Everything runs outside the room loops: a room copies its document on
// request (as for a snapshot) and the manager's goroutine compares,
// compresses and stores it.
//
// A restore (Manager.Restore) applies, through the room, the operations
// that make the live document hold the checkpoint's content
// (RestoreOps: a replace-state and the variables' changes) under the
// actor's identity; every replica converges on it as on any edit.
// Before it, the manager saves the current state as a named checkpoint
// ("before restore of N"), so a restore is undone by restoring that one.
//
// Nothing here logs document contents: ids, names and counts only.
package history
