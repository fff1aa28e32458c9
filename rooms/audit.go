package rooms

import (
	"context"
	"log/slog"
	"slices"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
)

// Admissions runs checks in order and returns the first refusal. Put
// AuditAdmission last.
func Admissions(checks ...Admission) Admission {
	return func(doc *workflow.Doc, c *Change) error {
		for _, check := range checks {
			if check == nil {
				continue
			}
			if err := check(doc, c); err != nil {
				return err
			}
		}
		return nil
	}
}

// AuditAdmission returns an Admission that never refuses and writes one
// structured audit record (audit=true) per lock transition and variable
// change the change makes, from either frame kind:
//
//	action=block.lock / block.unlock   block=<id>
//	action=variable.add / variable.update / variable.remove   variable=<id> [fields=...]
//
// with workflow, actor (user id), conn (the session's connection id, when
// a session made the change), frame (delta or operation) and op (the
// operation's name, for operation frames). Values are never logged: only
// ids and field names, since logs are kept and read more widely than the
// documents they describe.
//
// It relies on the room merging every change its Admission admits, which
// holds while Admission is the last check before the merge (see
// Room.handleDelta): so it must run last, after every check that may
// refuse (use Admissions). A nil logger discards.
func AuditAdmission(logger *slog.Logger) Admission {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return func(doc *workflow.Doc, c *Change) error {
		if !logger.Enabled(context.Background(), slog.LevelInfo) {
			return nil
		}
		locks := map[string]bool{}
		vars := map[string][]string{} // id → "add", "remove" or field names
		note := func(k workflow.Key, removal bool, v workflow.Value) {
			switch k.Kind {
			case workflow.KindBlockField:
				if k.Sub == workflow.FieldLocked && !removal {
					locks[k.ID] = workflow.BoolOf(v, false)
				}
			case workflow.KindVariable:
				if removal {
					vars[k.ID] = append(vars[k.ID], "remove")
				} else {
					vars[k.ID] = append(vars[k.ID], "add")
				}
			case workflow.KindVariableField:
				if !removal {
					vars[k.ID] = append(vars[k.ID], k.Sub)
				}
			}
		}
		seen := doc.Context()
		c.Delta.Store().Range(func(k workflow.Key, es []crdt.Dotted[workflow.Cell]) bool {
			for _, e := range es {
				if !seen.Contains(e.Dot) {
					note(k, false, e.Value.Value)
				}
			}
			return true
		})
		// Text edits write no value: they change their key's text.
		for _, k := range doc.TextKeys(c.Delta) {
			if len(c.Delta.Store().Get(k)) == 0 { // a new text's marker was noted above
				note(k, false, nil)
			}
		}
		// Removals write no value: find them in what the delta covers.
		if t, err := touchedBy(doc, c.Delta); err == nil {
			for _, k := range t.removals {
				if k.Kind == workflow.KindVariable {
					note(k, true, nil)
				}
			}
		}
		if len(locks) == 0 && len(vars) == 0 {
			return nil
		}
		base := []slog.Attr{
			slog.Bool("audit", true),
			slog.String("workflow", c.WorkflowID),
			slog.String("actor", c.Member.UserID),
			slog.String("role", string(c.Member.Role)),
		}
		if c.Conn != "" {
			base = append(base, slog.String("conn", c.Conn))
		}
		if c.Op != nil {
			base = append(base, slog.String("frame", "operation"), slog.String("op", c.Op.Name()))
		} else if c.Undo != "" {
			base = append(base, slog.String("frame", "operation"), slog.String("op", c.Undo))
		} else {
			base = append(base, slog.String("frame", "delta"))
		}
		for _, id := range sortedKeys(locks) {
			action := "block.unlock"
			if locks[id] {
				action = "block.lock"
			}
			logger.LogAttrs(context.Background(), slog.LevelInfo, "audit",
				append(slices.Clip(base), slog.String("action", action), slog.String("block", id))...)
		}
		for _, id := range sortedKeys(vars) {
			what := vars[id]
			action := "variable.update"
			switch {
			case slices.Contains(what, "remove") && !slices.Contains(what, "add"):
				action = "variable.remove"
			case slices.Contains(what, "add"):
				action = "variable.add"
			}
			fields := slices.DeleteFunc(slices.Clone(what), func(s string) bool { return s == "add" || s == "remove" })
			slices.Sort(fields)
			logger.LogAttrs(context.Background(), slog.LevelInfo, "audit",
				append(slices.Clip(base), slog.String("action", action), slog.String("variable", id),
					slog.Any("fields", slices.Compact(fields)))...)
		}
		return nil
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
