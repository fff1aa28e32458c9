package protocol

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unsafe"
)

// A record is the schema of one msgpack map with short string keys: a frame
// body or a map nested in one (the user of a Welcome, a roster entry, a
// point). Its fields are listed in wire order, which is the order the
// encoder writes them in. The encoder, the decoder and the validator
// interpret records (encode.go, decode.go, validate.go), and the tests
// generate docs/PROTOCOL.md's tables and the TypeScript codec's schema from
// them, so a field is declared exactly once.
//
// Each record describes one Go struct type. A field names the struct field
// it is stored in; init resolves that name to an offset once, checking that
// the Go type fits the wire kind, and the codec then reads and writes the
// field through the offset. That keeps the hot paths (a Delta decoded per
// edit, a RemoteDelta encoded per broadcast) free of reflection, and a
// table entry that names a missing field or the wrong Go type fails at
// init, never at run time.
type record struct {
	name   string       // for docs: "Hello", "roster entry"
	goType reflect.Type // the struct the fields live in
	rule   rule         // a rule over the whole record (ruleFinite, ruleSelection), if any
	doc    string       // for docs: what the record is
	fields []field

	// Derived by resolve.
	resolved bool
	required uint64 // bit i: fields[i] is required
	always   uint64 // bit i: fields[i] is written whatever its value
	written  int    // how many bits always has
	optional []int  // the other fields, written when present
}

// A field is one key of a record.
type field struct {
	key    string // wire key
	goName string // struct field
	kind   kind
	req    bool // required on the wire (and, for ruleID, not empty)
	rule   rule // the bound its value must respect
	max    int  // ruleText: most bytes
	// overCode, when set, is the code of a ruleText value over max, instead
	// of INVALID_FRAME (the Hello token: a token too long is a refused
	// token, whatever layer noticed).
	overCode Code
	values   []string
	elem     *field  // kindList: the elements (key unused)
	rec      *record // kindRecord, kindRecordOrNil, kindDict: the nested record (a list of records has it on elem)
	keyDoc   string  // kindDict: what the keys are, e.g. "block id"
	doc      string  // meaning, for docs

	// Derived by resolve.
	off     uintptr
	keyEnc  []byte   // the key, msgpack-encoded
	prefix  string   // kindRecord: key + ".", which names the nested keys in errors
	seq     *seqOps  // kindList: typed access to the slice
	dict    *dictOps // kindDict: typed access to the map
	goField reflect.Type
}

// kind is a field's msgpack type and the Go type that holds it.
type kind uint8

const (
	kindStr         kind = iota + 1 // str; Go string (or a string type)
	kindUint                        // non-negative integer; Go uint64
	kindInt                         // integer; Go int64
	kindBool                        // bool; Go bool
	kindFloat                       // any numeric form; Go float64
	kindBin                         // bin, aliasing the input; Go []byte
	kindCode                        // an error code, uint ≤ 65535; Go Code
	kindRecord                      // map with its own record; Go struct
	kindRecordOrNil                 // map or nil; Go pointer to struct (nil = nil)
	kindList                        // array of elem; Go slice
	kindDict                        // map from str keys to records; Go map[string]struct
	kindPayload                     // JSON-shaped map, canonical (§7.6); Go map[string]any
)

// rule is the bound on a field's value, checked by both Encode and Decode.
type rule uint8

const (
	ruleNone      rule = iota
	ruleID             // str: at most MaxIDBytes of UTF-8, and not empty when required
	ruleText           // str: at most max bytes of UTF-8
	ruleEnum           // str: one of values
	ruleNonZero        // uint, code: not 0
	ruleNonEmpty       // bin, list: not empty
	ruleFinite         // record of x and y: both finite
	ruleSelection      // the selection record: an id exactly when it selects a block or edge
)

// Field constructors. They keep the tables in schema.go one line per key.

func req(key, goName string, t field, doc string) field {
	t.key, t.goName, t.req, t.doc = key, goName, true, doc
	return t
}

func opt(key, goName string, t field, doc string) field {
	t.key, t.goName, t.req, t.doc = key, goName, false, doc
	return t
}

// Value types.
var (
	tID      = field{kind: kindStr, rule: ruleID}
	tUint    = field{kind: kindUint}
	tVersion = field{kind: kindUint, rule: ruleNonZero}
	tInt     = field{kind: kindInt}
	tBool    = field{kind: kindBool}
	tFloat   = field{kind: kindFloat}
	tBin     = field{kind: kindBin}
	tDelta   = field{kind: kindBin, rule: ruleNonEmpty}
	tCode    = field{kind: kindCode, rule: ruleNonZero}
	tPayload = field{kind: kindPayload}
)

func tText(max int) field { return field{kind: kindStr, rule: ruleText, max: max} }

// tTextOr is tText whose value over max is refused with code.
func tTextOr(max int, code Code) field {
	f := tText(max)
	f.overCode = code
	return f
}

func tEnum(values ...string) field { return field{kind: kindStr, rule: ruleEnum, values: values} }

func tRecord(r *record) field { return field{kind: kindRecord, rec: r} }

func tRecordOrNil(r *record) field { return field{kind: kindRecordOrNil, rec: r} }

// tList is an array of elem; rule ruleNonEmpty refuses an empty one.
func tList(elem field, rule rule) field {
	elem.req = true // an element is never absent
	return field{kind: kindList, elem: &elem, rule: rule}
}

// tDict is a map from ids (keyDoc says which) to records of r.
func tDict(keyDoc string, r *record) field {
	return field{kind: kindDict, rec: r, keyDoc: keyDoc}
}

// newRecord declares the record of Go struct T.
func newRecord[T any](name, doc string, rule rule, fields ...field) *record {
	return &record{name: name, doc: doc, goType: reflect.TypeFor[T](), rule: rule, fields: fields}
}

// frameSchema is a frame type's body record and a constructor for its
// struct, which Decode fills in.
type frameSchema struct {
	typ  FrameType
	body *record
	new  func() Frame
}

// newFrameSchema declares the body of frame T.
func newFrameSchema[T any, PT interface {
	*T
	Frame
}](typ FrameType, body *record) frameSchema {
	if body.goType != reflect.TypeFor[T]() || PT(new(T)).Type() != typ {
		panic(fmt.Sprintf("protocol: frame %v: record of %v, or %v is of another type", typ, body.goType, reflect.TypeFor[T]()))
	}
	return frameSchema{typ: typ, body: body, new: func() Frame { return PT(new(T)) }}
}

// resolve derives what the codec needs from a record's table and checks the
// table against the Go struct. It panics on a mistake: tables are constants
// of the program, so a bad one is a bug that every test run finds.
func (r *record) resolve() {
	if r.resolved {
		return // shared by several frames, resolved once
	}
	r.resolved = true
	if len(r.fields) > maxStructKeys {
		panic("protocol: record " + r.name + " has more keys than a decoder accepts")
	}
	seen := map[string]bool{}
	for i := range r.fields {
		f := &r.fields[i]
		if seen[f.key] {
			panic(fmt.Sprintf("protocol: record %s: key %q twice", r.name, f.key))
		}
		seen[f.key] = true
		off, typ, ok := fieldAt(r.goType, f.goName)
		if !ok {
			panic(fmt.Sprintf("protocol: record %s: %v has no field %s", r.name, r.goType, f.goName))
		}
		f.off, f.goField = off, typ
		f.keyEnc = appendKey(nil, f.key)
		f.prefix = f.key + "."
		f.checkGoType(r.name)
		if f.req {
			r.required |= 1 << i
		}
		if f.req || f.kind == kindRecordOrNil {
			r.always |= 1 << i
			r.written++
		} else {
			r.optional = append(r.optional, i)
		}
		if f.rec != nil {
			f.rec.resolve()
		}
		if f.elem != nil && f.elem.rec != nil {
			f.elem.rec.resolve()
		}
	}
	switch r.rule {
	case ruleFinite:
		mustBe[Point](r)
	case ruleSelection:
		mustBe[Selection](r)
	}
}

// fieldAt finds the struct field a key is read into and written from: a
// field name, or a path through nested struct fields ("Receipt.KeyID"),
// which lets a flat group of wire keys fill a small struct of their own. It
// returns the field's offset from the start of t and its type.
func fieldAt(t reflect.Type, path string) (uintptr, reflect.Type, bool) {
	var off uintptr
	for name := range strings.SplitSeq(path, ".") {
		if t.Kind() != reflect.Struct {
			return 0, nil, false
		}
		sf, ok := t.FieldByName(name)
		if !ok || len(sf.Index) != 1 {
			return 0, nil, false
		}
		off += sf.Offset
		t = sf.Type
	}
	return off, t, true
}

func mustBe[T any](r *record) {
	if r.goType != reflect.TypeFor[T]() {
		panic(fmt.Sprintf("protocol: record %s: its check needs a %v", r.name, reflect.TypeFor[T]()))
	}
}

// checkGoType panics unless the struct field's type holds the wire kind, so
// that reading it through its offset is sound.
func (f *field) checkGoType(rec string) {
	t := f.goField
	ok := false
	switch f.kind {
	case kindStr:
		ok = t.Kind() == reflect.String
	case kindUint:
		ok = t.Kind() == reflect.Uint64
	case kindInt:
		ok = t.Kind() == reflect.Int64
	case kindBool:
		ok = t.Kind() == reflect.Bool
	case kindFloat:
		ok = t.Kind() == reflect.Float64
	case kindBin:
		ok = t == reflect.TypeFor[[]byte]()
	case kindCode:
		ok = t == reflect.TypeFor[Code]()
	case kindRecord:
		ok = t == f.rec.goType
	case kindRecordOrNil:
		ok = t.Kind() == reflect.Pointer && t.Elem() == f.rec.goType
	case kindPayload:
		ok = t == reflect.TypeFor[map[string]any]()
	case kindList:
		f.seq = seqFor(t)
		ok = f.seq != nil && (f.elem.kind == kindStr && t.Elem().Kind() == reflect.String ||
			f.elem.kind == kindRecord && t.Elem() == f.elem.rec.goType)
	case kindDict:
		f.dict = dictFor(t)
		ok = f.dict != nil && t.Elem() == f.rec.goType
	}
	if !ok {
		panic(fmt.Sprintf("protocol: record %s: key %q (kind %d) cannot live in a %v", rec, f.key, f.kind, t))
	}
	if f.rule == ruleEnum && len(f.values) == 0 || f.rule == ruleText && f.max <= 0 {
		panic(fmt.Sprintf("protocol: record %s: key %q has an incomplete rule", rec, f.key))
	}
}

// seqOps gives the codec typed access to a slice field whose element type
// it cannot name. Elements are contiguous, so one base pointer and the
// element size address them all.
type seqOps struct {
	size uintptr
	// make stores a new slice of n zero elements at p and returns its first
	// element (nil when n is 0; the slice is empty but not nil).
	make func(p unsafe.Pointer, n int) unsafe.Pointer
	// view returns the first element and the length of the slice at p.
	view func(p unsafe.Pointer) (unsafe.Pointer, int)
}

func newSeqOps[E any]() *seqOps {
	return &seqOps{
		size: unsafe.Sizeof(*new(E)),
		make: func(p unsafe.Pointer, n int) unsafe.Pointer {
			s := make([]E, n)
			*(*[]E)(p) = s
			return unsafe.Pointer(unsafe.SliceData(s))
		},
		view: func(p unsafe.Pointer) (unsafe.Pointer, int) {
			s := *(*[]E)(p)
			return unsafe.Pointer(unsafe.SliceData(s)), len(s)
		},
	}
}

// dictOps gives the codec typed access to a map field.
type dictOps struct {
	make func(p unsafe.Pointer, n int)
	len  func(p unsafe.Pointer) int
	// keys returns the keys in ascending order, so that equal frames encode
	// to equal bytes.
	keys func(p unsafe.Pointer) []string
	// load copies the value of k into the struct at dst.
	load func(p unsafe.Pointer, k string, dst unsafe.Pointer)
	// store moves the struct at src into the map under k (src is zero
	// afterwards), unless k is there already: then it reports false.
	store func(p unsafe.Pointer, k string, src unsafe.Pointer) bool
	// scratch returns a zeroed value to decode into before store.
	scratch func() unsafe.Pointer
	// each calls fn with every key and value (unordered; for validation).
	each func(p unsafe.Pointer, fn func(k string, v unsafe.Pointer) error) error
}

func newDictOps[V any]() *dictOps {
	return &dictOps{
		make: func(p unsafe.Pointer, n int) { *(*map[string]V)(p) = make(map[string]V, n) },
		len:  func(p unsafe.Pointer) int { return len(*(*map[string]V)(p)) },
		keys: func(p unsafe.Pointer) []string {
			m := *(*map[string]V)(p)
			ks := make([]string, 0, len(m))
			for k := range m {
				ks = append(ks, k)
			}
			slices.Sort(ks)
			return ks
		},
		load: func(p unsafe.Pointer, k string, dst unsafe.Pointer) { *(*V)(dst) = (*(*map[string]V)(p))[k] },
		store: func(p unsafe.Pointer, k string, src unsafe.Pointer) bool {
			m := *(*map[string]V)(p)
			if _, dup := m[k]; dup {
				return false
			}
			m[k] = *(*V)(src)
			*(*V)(src) = *new(V)
			return true
		},
		scratch: func() unsafe.Pointer { return unsafe.Pointer(new(V)) },
		each: func(p unsafe.Pointer, fn func(string, unsafe.Pointer) error) error {
			for k, v := range *(*map[string]V)(p) {
				if err := fn(k, unsafe.Pointer(&v)); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// seqFor and dictFor return the typed accessors for the container types the
// frames use. A new container type in a frame struct is added here; resolve
// panics until it is.
func seqFor(t reflect.Type) *seqOps {
	switch t {
	case reflect.TypeFor[[]string]():
		return newSeqOps[string]()
	case reflect.TypeFor[[]RosterEntry]():
		return newSeqOps[RosterEntry]()
	}
	return nil
}

func dictFor(t reflect.Type) *dictOps {
	if t == reflect.TypeFor[map[string]Point]() {
		return newDictOps[Point]()
	}
	return nil
}

// isZero reports whether every field of the record at p holds its zero
// value: an optional record that is zero is not written.
func (r *record) isZero(p unsafe.Pointer) bool {
	for i := range r.fields {
		if r.fields[i].present(unsafe.Add(p, r.fields[i].off)) {
			return false
		}
	}
	return true
}

// present reports whether the field at p holds a value other than its zero
// value. An optional field is written only then: an absent key and a zero
// value mean the same, and omitting it keeps encodings canonical.
func (f *field) present(p unsafe.Pointer) bool {
	switch f.kind {
	case kindStr:
		return *(*string)(p) != ""
	case kindUint:
		return *(*uint64)(p) != 0
	case kindInt:
		return *(*int64)(p) != 0
	case kindBool:
		return *(*bool)(p)
	case kindFloat:
		return *(*float64)(p) != 0
	case kindBin:
		return len(*(*[]byte)(p)) != 0
	case kindCode:
		return *(*Code)(p) != 0
	case kindRecord:
		return !f.rec.isZero(p)
	case kindRecordOrNil:
		return *(*unsafe.Pointer)(p) != nil
	case kindList:
		_, n := f.seq.view(p)
		return n != 0
	case kindDict:
		return f.dict.len(p) != 0
	case kindPayload:
		return *(*map[string]any)(p) != nil
	}
	return false
}
