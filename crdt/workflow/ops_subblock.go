package workflow

// subBlockTypeUnknown is the type a sub-block created by a value update
// gets, as in the reference.
const subBlockTypeUnknown = "unknown"

// UpdateSubBlock ("subblock-update", its own event in the reference) sets
// one sub-block value, last writer wins. It fails with ErrUnknownBlock,
// ErrLocked, or ErrInvalid (empty ids, a value that does not encode).
type UpdateSubBlock struct {
	BlockID    string
	SubBlockID string
	Value      any
}

// Name implements Op.
func (UpdateSubBlock) Name() string { return "subblock-update" }

func (op UpdateSubBlock) prepare(b *builder) error {
	return b.writeSubBlock(SubBlockUpdate{BlockID: op.BlockID, SubBlockID: op.SubBlockID, Value: op.Value})
}

// SubBlockUpdate is one entry of SubBlockBatchUpdate. When HasExpected is
// set, the update applies only if the stored value equals ExpectedValue
// (nil matches an absent value).
type SubBlockUpdate struct {
	BlockID       string
	SubBlockID    string
	Value         any
	ExpectedValue any
	HasExpected   bool
}

// SubBlockBatchUpdate ("subblock-batch-update") sets sub-block values, all or
// nothing. It fails with ErrUnknownBlock, ErrLocked, ErrInvalid, or
// ErrPrecondition when an expected value differs from the stored one. This is
// an admission check, evaluated against the state it is prepared on: a
// concurrent write elsewhere still merges by last-writer-wins.
type SubBlockBatchUpdate struct{ Updates []SubBlockUpdate }

// Name implements Op.
func (SubBlockBatchUpdate) Name() string { return "subblock-batch-update" }

func (op SubBlockBatchUpdate) prepare(b *builder) error {
	for _, u := range op.Updates {
		if err := b.writeSubBlock(u); err != nil {
			return err
		}
	}
	return nil
}

// writeSubBlock checks and writes one sub-block update. A sub-block that
// never had a type gets "unknown".
func (b *builder) writeSubBlock(u SubBlockUpdate) error {
	if err := editable(b, u.BlockID); err != nil {
		return err
	}
	if u.SubBlockID == "" {
		return errorf(ErrInvalid, "block %q: empty sub-block id", u.BlockID)
	}
	k := subBlockKey(u.BlockID, u.SubBlockID)
	if done, err := b.rebaseText(k, u); done || err != nil {
		return err
	}
	if u.HasExpected {
		want, err := anyValue(u.ExpectedValue)
		if err != nil {
			return errorf(ErrInvalid, "expected value of %s.%s: %v", u.BlockID, u.SubBlockID, err)
		}
		if !sameCellValue(b.readValue(k), want) {
			return errorf(ErrPrecondition, "sub-block %s.%s changed", u.BlockID, u.SubBlockID)
		}
	}
	if tk := subBlockTypeKey(u.BlockID, u.SubBlockID); !b.has(tk) {
		b.put(tk, stringValue(subBlockTypeUnknown))
	}
	return b.putAny(k, u.Value)
}
