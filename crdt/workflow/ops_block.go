package workflow

import (
	"maps"
	"slices"
	"strings"
)

// Every single-block operation fails with ErrInvalid for an empty id,
// ErrUnknownBlock when the block is not present and ErrLocked when it is
// protected (locked, or under a locked container).

// editable checks that a single-block operation may touch block id.
func editable(b *builder, id string) error {
	if err := checkID("block", id); err != nil {
		return err
	}
	if !blockExists(b, id) {
		return errorf(ErrUnknownBlock, "block %q", id)
	}
	if protected(b, id) {
		return errorf(ErrLocked, "block %q", id)
	}
	return nil
}

// UpdatePosition ("update-position") sets a block's position.
type UpdatePosition struct {
	ID       string
	Position Position
}

// Name implements Op.
func (UpdatePosition) Name() string { return "update-position" }

func (op UpdatePosition) prepare(b *builder) error {
	if err := editable(b, op.ID); err != nil {
		return err
	}
	b.put(fieldKey(op.ID, FieldPosition), positionValue(op.Position))
	return nil
}

// UpdateName ("update-name") renames a block. It fails with ErrNameConflict
// when the normalized name is empty, reserved or another present block's.
type UpdateName struct {
	ID string
	// NewName is the payload's name (a field cannot share the Name method's
	// name).
	NewName string
}

// Name implements Op.
func (UpdateName) Name() string { return "update-name" }

func (op UpdateName) prepare(b *builder) error {
	if err := editable(b, op.ID); err != nil {
		return err
	}
	if _, err := checkName(op.NewName, b.blockNames(), op.ID); err != nil {
		return err
	}
	b.put(fieldKey(op.ID, FieldName), stringValue(op.NewName))
	return nil
}

// ToggleEnabled ("toggle-enabled") flips the stored enabled flag (default
// true).
type ToggleEnabled struct{ ID string }

// Name implements Op.
func (ToggleEnabled) Name() string { return "toggle-enabled" }

func (op ToggleEnabled) prepare(b *builder) error {
	return flipFlag(b, op.ID, FieldEnabled, true)
}

func flipFlag(b *builder, id, field string, def bool) error {
	if err := editable(b, id); err != nil {
		return err
	}
	k := fieldKey(id, field)
	b.put(k, boolValue(!b.get(k).asBool(def)))
	return nil
}

func setFlag(b *builder, id, field string, v bool) error {
	if err := editable(b, id); err != nil {
		return err
	}
	b.put(fieldKey(id, field), boolValue(v))
	return nil
}

// UpdateParent ("update-parent") moves a block into a container, or out of
// it when ParentID is empty (which also drops the extent). A non-empty Extent
// is written; an empty one leaves the stored extent. It fails with
// ErrUnknownBlock or ErrNotContainer for a bad parent, ErrInvalid when the
// parent is the block or one of its effective descendants (any depth), and
// ErrLocked when the parent is protected, or when the move would have to
// clear the stale parent of a protected block (see staleCut).
type UpdateParent struct {
	ID       string
	ParentID string
	Extent   string
}

// Name implements Op.
func (UpdateParent) Name() string { return "update-parent" }

func (op UpdateParent) prepare(b *builder) error {
	if err := editable(b, op.ID); err != nil {
		return err
	}
	if op.ParentID != "" {
		if err := checkParent(b, op.ID, op.ParentID); err != nil {
			return err
		}
	}
	b.setParent(op.ID, op.ParentID, op.Extent)
	return nil
}

// UpdateAdvancedMode ("update-advanced-mode") sets advancedMode.
type UpdateAdvancedMode struct {
	ID           string
	AdvancedMode bool
}

// Name implements Op.
func (UpdateAdvancedMode) Name() string { return "update-advanced-mode" }

func (op UpdateAdvancedMode) prepare(b *builder) error {
	return setFlag(b, op.ID, FieldAdvancedMode, op.AdvancedMode)
}

// UpdateErrorEnabled ("update-error-enabled") sets errorEnabled.
type UpdateErrorEnabled struct {
	ID           string
	ErrorEnabled bool
}

// Name implements Op.
func (UpdateErrorEnabled) Name() string { return "update-error-enabled" }

func (op UpdateErrorEnabled) prepare(b *builder) error {
	return setFlag(b, op.ID, FieldErrorEnabled, op.ErrorEnabled)
}

// UpdateRetry ("update-retry") stores the retry object verbatim; bounds are
// applied by readers, as in the reference.
type UpdateRetry struct {
	ID    string
	Retry map[string]any
}

// Name implements Op.
func (UpdateRetry) Name() string { return "update-retry" }

func (op UpdateRetry) prepare(b *builder) error {
	if err := editable(b, op.ID); err != nil {
		return err
	}
	var v any
	if op.Retry != nil {
		v = op.Retry
	}
	return b.putAny(fieldKey(op.ID, FieldRetry), v)
}

// UpdateCanonicalMode ("update-canonical-mode") sets one canonical mode;
// Mode must be "basic" or "advanced" (ErrInvalid).
type UpdateCanonicalMode struct {
	ID          string
	CanonicalID string
	Mode        string
}

// Name implements Op.
func (UpdateCanonicalMode) Name() string { return "update-canonical-mode" }

func (op UpdateCanonicalMode) prepare(b *builder) error {
	if err := editable(b, op.ID); err != nil {
		return err
	}
	if err := checkModes(map[string]string{op.CanonicalID: op.Mode}); err != nil {
		return err
	}
	b.put(fieldKey(op.ID, FieldCanonicalPrefix+op.CanonicalID), stringValue(op.Mode))
	return nil
}

// ReplaceCanonicalModes ("replace-canonical-modes") replaces the block's
// canonical modes with Modes.
type ReplaceCanonicalModes struct {
	ID    string
	Modes map[string]string
}

// Name implements Op.
func (ReplaceCanonicalModes) Name() string { return "replace-canonical-modes" }

func (op ReplaceCanonicalModes) prepare(b *builder) error {
	if err := editable(b, op.ID); err != nil {
		return err
	}
	if err := checkModes(op.Modes); err != nil {
		return err
	}
	stale := b.entityKeysWhere(entity{KindBlock, op.ID}, func(k Key) bool {
		if k.Kind != KindBlockField || k.ID != op.ID || !strings.HasPrefix(k.Sub, FieldCanonicalPrefix) {
			return false
		}
		_, keep := op.Modes[strings.TrimPrefix(k.Sub, FieldCanonicalPrefix)]
		return !keep && b.has(k)
	})
	for _, k := range stale {
		b.remove(k)
	}
	for _, cid := range slices.Sorted(maps.Keys(op.Modes)) {
		b.put(fieldKey(op.ID, FieldCanonicalPrefix+cid), stringValue(op.Modes[cid]))
	}
	return nil
}

// ToggleHandles ("toggle-handles") sets horizontalHandles. Despite its name
// the reference sets the given value rather than flipping.
type ToggleHandles struct {
	ID                string
	HorizontalHandles bool
}

// Name implements Op.
func (ToggleHandles) Name() string { return "toggle-handles" }

func (op ToggleHandles) prepare(b *builder) error {
	return setFlag(b, op.ID, FieldHorizontalHandles, op.HorizontalHandles)
}

// UpdateWide ("update-wide", legacy) sets isWide.
type UpdateWide struct {
	ID     string
	IsWide bool
}

// Name implements Op.
func (UpdateWide) Name() string { return "update-wide" }

func (op UpdateWide) prepare(b *builder) error { return setFlag(b, op.ID, FieldIsWide, op.IsWide) }

// UpdateTriggerMode ("update-trigger-mode", legacy) sets triggerMode.
type UpdateTriggerMode struct {
	ID          string
	TriggerMode bool
}

// Name implements Op.
func (UpdateTriggerMode) Name() string { return "update-trigger-mode" }

func (op UpdateTriggerMode) prepare(b *builder) error {
	return setFlag(b, op.ID, FieldTriggerMode, op.TriggerMode)
}

// AddBlock ("add", legacy) adds one block, and optionally one edge to it,
// with the rules and errors of BatchAddBlocks.
type AddBlock struct {
	Block           BlockInput
	AutoConnectEdge *EdgeInput
}

// Name implements Op.
func (AddBlock) Name() string { return "add" }

func (op AddBlock) prepare(b *builder) error {
	batch := BatchAddBlocks{Blocks: []BlockInput{op.Block}}
	if op.AutoConnectEdge != nil {
		batch.Edges = []EdgeInput{*op.AutoConnectEdge}
	}
	return batch.prepare(b)
}

// RemoveBlock ("remove", legacy) removes one block, cascading like
// BatchRemoveBlocks; unlike the batch it fails with ErrUnknownBlock or
// ErrLocked instead of skipping.
type RemoveBlock struct{ ID string }

// Name implements Op.
func (RemoveBlock) Name() string { return "remove" }

func (op RemoveBlock) prepare(b *builder) error {
	if err := editable(b, op.ID); err != nil {
		return err
	}
	b.removeBlocks(b.withDescendants([]string{op.ID}, nil))
	return nil
}

// DuplicateBlock ("duplicate", legacy) copies a block's fields, sub-blocks
// and (for a container) subflow config, not its children, to a new id in the
// same parent. Name defaults to a unique "<name> (copy)"; Position defaults
// to the source's, offset by duplicateOffset. The copy is never locked. It
// fails with ErrUnknownBlock (source), ErrExists (id), ErrNameConflict
// (given name) or ErrLocked (the parent is protected).
type DuplicateBlock struct {
	SourceID string
	ID       string
	NewName  string
	Position *Position
}

// Name implements Op.
func (DuplicateBlock) Name() string { return "duplicate" }

// duplicateOffset is how far a copy lands from its source by default, so it
// does not hide under it.
const duplicateOffset = 50

func (op DuplicateBlock) prepare(b *builder) error {
	if err := checkNewCopy(b, op.SourceID, op.ID); err != nil {
		return err
	}
	parent := effectiveParent(b, op.SourceID)
	if parent != "" && protected(b, parent) {
		return errorf(ErrLocked, "parent %q", parent)
	}
	names := b.blockNames()
	name := op.NewName
	if name == "" {
		name = copyName(b.get(fieldKey(op.SourceID, FieldName)).asString(), names)
	} else if _, err := checkName(name, names, op.ID); err != nil {
		return err
	}
	pos := b.get(fieldKey(op.SourceID, FieldPosition)).asPosition()
	pos.X, pos.Y = pos.X+duplicateOffset, pos.Y+duplicateOffset
	if op.Position != nil {
		pos = *op.Position
	}
	b.copyBlock(op.SourceID, op.ID, name, pos)
	b.setCopyParent(op.ID, parent)
	return nil
}

// setCopyParent gives a copy the source's effective parent, which differs
// from the stored one the copy inherited when the source is an orphan or a
// cycle's cut: the copy lands where the source shows.
func (b *builder) setCopyParent(id, parent string) {
	if b.get(fieldKey(id, FieldParentID)).asString() == parent {
		return // the common case: nothing to correct, no write
	}
	if parent == "" {
		b.remove(fieldKey(id, FieldParentID))
		return
	}
	b.put(fieldKey(id, FieldParentID), stringValue(parent))
}

// checkNewCopy checks the source and the new id of a duplicate.
func checkNewCopy(b *builder, src, id string) error {
	if err := checkID("source block", src); err != nil {
		return err
	}
	if err := checkID("block", id); err != nil {
		return err
	}
	if !blockExists(b, src) {
		return errorf(ErrUnknownBlock, "source block %q", src)
	}
	if blockExists(b, id) {
		return errorf(ErrExists, "block %q", id)
	}
	return nil
}

// copyBlock writes block dst as a copy of src's fields, sub-blocks and
// subflow config, with the given name and position, unlocked.
func (b *builder) copyBlock(src, dst, name string, pos Position) {
	keys := b.entityKeysWhere(entity{KindBlock, src}, func(k Key) bool {
		switch k.Kind {
		case KindBlockField, KindSubBlock, KindSubBlockType, KindSubflow:
			return k.ID == src && b.has(k)
		}
		return false
	})
	b.put(blockKey(dst), nil)
	for _, k := range keys {
		b.copyValue(k, Key{k.Kind, dst, k.Sub})
	}
	b.put(fieldKey(dst, FieldName), stringValue(name))
	b.put(fieldKey(dst, FieldPosition), positionValue(pos))
	b.put(fieldKey(dst, FieldLocked), boolValue(false))
}
