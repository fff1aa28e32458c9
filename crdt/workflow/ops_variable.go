package workflow

// AddVariable ("add", target variable) adds a workflow variable. Value
// defaults to the empty string. It fails with ErrInvalid (empty id) or
// ErrExists.
type AddVariable struct {
	ID string
	// VarName is the payload's name (a field cannot share the Name method's
	// name).
	VarName string
	Type    string
	Value   any
}

// Name implements Op.
func (AddVariable) Name() string { return "add" }

func (op AddVariable) prepare(b *builder) error {
	if err := checkID("variable", op.ID); err != nil {
		return err
	}
	if b.has(variableKey(op.ID)) {
		return errorf(ErrExists, "variable %q", op.ID)
	}
	v := op.Value
	if v == nil {
		v = ""
	}
	b.put(variableKey(op.ID), nil)
	b.put(variableFieldKey(op.ID, VarFieldName), stringValue(op.VarName))
	b.put(variableFieldKey(op.ID, VarFieldType), stringValue(op.Type))
	return b.putAny(variableFieldKey(op.ID, VarFieldValue), v)
}

// RemoveVariable ("remove", target variable) removes a variable and its
// fields. It fails with ErrUnknownVariable.
type RemoveVariable struct{ ID string }

// Name implements Op.
func (RemoveVariable) Name() string { return "remove" }

func (op RemoveVariable) prepare(b *builder) error {
	if err := knownVariable(b, op.ID); err != nil {
		return err
	}
	keys := b.entityKeysWhere(entity{KindVariable, op.ID}, func(k Key) bool {
		return (k.Kind == KindVariable || k.Kind == KindVariableField) && k.ID == op.ID
	})
	for _, k := range keys {
		b.remove(k)
	}
	return nil
}

func knownVariable(b *builder, id string) error {
	if err := checkID("variable", id); err != nil {
		return err
	}
	if !b.has(variableKey(id)) {
		return errorf(ErrUnknownVariable, "variable %q", id)
	}
	return nil
}

// UpdateVariable ("variable-update", its own event in the reference) sets
// one field: name, type (strings) or value. It fails with ErrInvalid (other
// field, non-string name or type) or ErrUnknownVariable; a missing variable
// is never created.
type UpdateVariable struct {
	ID    string
	Field string
	Value any
}

// Name implements Op.
func (UpdateVariable) Name() string { return "variable-update" }

func (op UpdateVariable) prepare(b *builder) error {
	switch op.Field {
	case VarFieldName, VarFieldType:
		if _, ok := op.Value.(string); !ok {
			return errorf(ErrInvalid, "variable %q: %s must be a string", op.ID, op.Field)
		}
	case VarFieldValue:
	default:
		return errorf(ErrInvalid, "variable %q: unknown field %q", op.ID, op.Field)
	}
	if err := knownVariable(b, op.ID); err != nil {
		return err
	}
	return b.putAny(variableFieldKey(op.ID, op.Field), op.Value)
}

// DuplicateVariable ("duplicate", legacy) copies a variable to a new id,
// named "<name> (copy)". It fails with ErrUnknownVariable, ErrInvalid or
// ErrExists.
type DuplicateVariable struct {
	SourceID string
	ID       string
}

// Name implements Op.
func (DuplicateVariable) Name() string { return "duplicate" }

func (op DuplicateVariable) prepare(b *builder) error {
	if err := knownVariable(b, op.SourceID); err != nil {
		return err
	}
	if err := checkID("variable", op.ID); err != nil {
		return err
	}
	if b.has(variableKey(op.ID)) {
		return errorf(ErrExists, "variable %q", op.ID)
	}
	b.put(variableKey(op.ID), nil)
	for _, f := range []string{VarFieldType, VarFieldValue} {
		if k := variableFieldKey(op.SourceID, f); b.has(k) {
			b.copyValue(k, variableFieldKey(op.ID, f))
		}
	}
	name := b.get(variableFieldKey(op.SourceID, VarFieldName)).asString()
	b.put(variableFieldKey(op.ID, VarFieldName), stringValue(name+" (copy)"))
	return nil
}
