package protocol

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// TestGeneratedFiles keeps what is written from the schema tables in step
// with them: the TypeScript codec's schema module and the frame, code and
// close-code tables of docs/PROTOCOL.md. It renders both in memory and
// compares them with the committed files, so that a change to a table that
// leaves the other language or the doc behind fails here. Rewrite them with
//
//	go test ./sync/protocol -run TestGeneratedFiles -update
func TestGeneratedFiles(t *testing.T) {
	for _, g := range []struct {
		path   string
		render func(old []byte) ([]byte, error)
	}{
		{tsSchemaPath, func([]byte) ([]byte, error) { return renderTS(), nil }},
		{protocolDocPath, renderDoc},
	} {
		old, err := os.ReadFile(g.path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := g.render(old)
		if err != nil {
			t.Fatalf("%s: %v", g.path, err)
		}
		if bytes.Equal(got, old) {
			continue
		}
		if *update {
			if err := os.WriteFile(g.path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Errorf("%s is stale: rerun with -update (go test ./sync/protocol -run TestGeneratedFiles -update)\n%s",
			g.path, firstDiff(old, got))
	}
}

const (
	tsSchemaPath    = "../../clients/js/src/protocol/schema.ts"
	protocolDocPath = "../../docs/PROTOCOL.md"
)

// firstDiff shows the first line that differs, to say what is stale.
func firstDiff(old, got []byte) string {
	a, b := strings.Split(string(old), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n  committed: %s\n  generated: %s", i+1, x, y)
		}
	}
	return ""
}

// records returns every record nested in the frame bodies, each once,
// every record after the records it holds (so that TypeScript constants
// are declared before they are used).
func records() []*record {
	var out []*record
	seen := map[*record]bool{}
	var visit func(r *record)
	visit = func(r *record) {
		if seen[r] {
			return
		}
		seen[r] = true
		for _, f := range r.fields {
			if f.rec != nil {
				visit(f.rec)
			}
			if f.elem != nil && f.elem.rec != nil {
				visit(f.elem.rec)
			}
		}
		out = append(out, r)
	}
	for _, s := range frameSchemas {
		for _, f := range s.body.fields {
			if f.rec != nil {
				visit(f.rec)
			}
			if f.elem != nil && f.elem.rec != nil {
				visit(f.elem.rec)
			}
		}
	}
	return out
}

// ---- TypeScript ------------------------------------------------------------

// tsProp is the TypeScript property of a Go field: lowerCamelCase, with
// "ID" spelled "Id" (WorkflowID → workflowId, OpIDs → opIds), as PORTING.md
// asks. A path through a nested Go struct becomes one flat property
// (Receipt.KeyID → receiptKeyId), as the keys are flat on the wire.
func tsProp(goName string) string {
	if head, rest, nested := strings.Cut(goName, "."); nested {
		tail := []rune(tsProp(rest))
		tail[0] = unicode.ToUpper(tail[0])
		return tsProp(head) + string(tail)
	}
	if strings.ToUpper(goName) == goName {
		return strings.ToLower(goName)
	}
	s := regexp.MustCompile(`ID(s?)($|[A-Z])`).ReplaceAllString(goName, "Id$1$2")
	r := []rune(s)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

// tsIdent turns a record name into a TypeScript identifier stem:
// "roster entry" → "rosterEntry", "Hello" → "hello".
func tsIdent(name string) string {
	words := strings.Fields(name)
	for i, w := range words {
		r := []rune(w)
		if i == 0 {
			r[0] = unicode.ToLower(r[0])
		} else {
			r[0] = unicode.ToUpper(r[0])
		}
		words[i] = string(r)
	}
	return strings.Join(words, "")
}

func tsRecordConst(r *record) string {
	if _, ok := frameByName(r.name); ok {
		return tsIdent(r.name) + "Body"
	}
	return tsIdent(r.name) + "Record"
}

func frameByName(name string) (*frameSchema, bool) {
	for i := range frameSchemas {
		if frameSchemas[i].body.name == name {
			return &frameSchemas[i], true
		}
	}
	return nil, false
}

// tsFrameName is the interface of a frame: its Go name, except that the
// Error frame is ErrorFrame, which would otherwise shadow JavaScript's Error.
func tsFrameName(t FrameType) string {
	if t == FrameError {
		return "ErrorFrame"
	}
	return t.String()
}

// tsType is the TypeScript type of a field's value.
func tsType(f *field) string {
	switch f.kind {
	case kindStr:
		if f.rule == ruleEnum {
			return f.goField.Name()
		}
		return "string"
	case kindUint, kindInt, kindFloat, kindCode:
		return "number"
	case kindBool:
		return "boolean"
	case kindBin:
		return "Uint8Array"
	case kindRecord:
		return f.rec.goType.Name()
	case kindRecordOrNil:
		return f.rec.goType.Name() + " | null"
	case kindList:
		if f.elem.kind == kindRecord {
			return f.elem.rec.goType.Name() + "[]"
		}
		return tsType(f.elem) + "[]"
	case kindDict:
		return "Record<string, " + f.rec.goType.Name() + ">"
	case kindPayload:
		return "Record<string, unknown>"
	}
	panic("unknown kind")
}

// tsOptional reports whether a field's property may be missing from a
// TypeScript frame. A record or nil is always there (null for none), and
// so is a record whose keys are all optional (an empty object for none).
func tsOptional(f *field) bool {
	switch {
	case f.req, f.kind == kindRecordOrNil:
		return false
	case f.kind == kindRecord:
		return f.rec.required != 0
	}
	return true
}

var kindNames = map[kind]string{
	kindStr: "str", kindUint: "uint", kindInt: "int", kindBool: "bool", kindFloat: "float",
	kindBin: "bin", kindCode: "code", kindRecord: "record", kindRecordOrNil: "recordOrNil",
	kindList: "list", kindDict: "dict", kindPayload: "payload",
}

var ruleNames = map[rule]string{
	ruleID: "id", ruleText: "text", ruleEnum: "enum", ruleNonZero: "nonZero",
	ruleNonEmpty: "nonEmpty", ruleFinite: "finite", ruleSelection: "selection",
}

func sq(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// tsField writes a field's schema as a TypeScript object literal.
func tsField(f *field, withKey bool) string {
	var parts []string
	if withKey {
		parts = append(parts, "key: "+sq(f.key), "prop: "+sq(tsProp(f.goName)))
	}
	parts = append(parts, "kind: "+sq(kindNames[f.kind]), fmt.Sprintf("required: %v", f.req))
	if f.rule != ruleNone {
		parts = append(parts, "rule: "+sq(ruleNames[f.rule]))
	}
	if f.rule == ruleText {
		parts = append(parts, fmt.Sprintf("max: %d", f.max))
	}
	if len(f.values) > 0 {
		vs := make([]string, len(f.values))
		for i, v := range f.values {
			vs[i] = sq(v)
		}
		parts = append(parts, "values: ["+strings.Join(vs, ", ")+"]")
	}
	if f.kind == kindList {
		parts = append(parts, "elem: "+tsField(f.elem, false))
	}
	if f.rec != nil {
		parts = append(parts, "record: "+tsRecordConst(f.rec))
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

// tsDoc writes a comment, wrapped at about 100 columns.
func tsDoc(b *strings.Builder, indent, text string) {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(indent)+len(line)+len(w) > 96 {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	lines = append(lines, line)
	if len(lines) == 1 && len(indent)+len(line) <= 94 {
		fmt.Fprintf(b, "%s/** %s */\n", indent, line)
		return
	}
	fmt.Fprintf(b, "%s/**\n", indent)
	for _, l := range lines {
		fmt.Fprintf(b, "%s * %s\n", indent, l)
	}
	fmt.Fprintf(b, "%s */\n", indent)
}

func tsInterface(b *strings.Builder, name string, r *record, typ *FrameType) {
	if r.doc != "" {
		tsDoc(b, "", r.doc)
	}
	fmt.Fprintf(b, "export interface %s {\n", name)
	if typ != nil {
		fmt.Fprintf(b, "  type: typeof FrameType.%s;\n", typ.String())
	}
	for i := range r.fields {
		f := &r.fields[i]
		tsDoc(b, "  ", "`"+f.key+"`: "+f.doc)
		q := ""
		if tsOptional(f) {
			q = "?"
		}
		fmt.Fprintf(b, "  %s%s: %s;\n", tsProp(f.goName), q, tsType(f))
	}
	b.WriteString("}\n")
}

// renderTS writes clients/js/src/protocol/schema.ts.
func renderTS() []byte {
	var b strings.Builder
	b.WriteString(`// Code generated by TestGeneratedFiles (go test ./sync/protocol -run TestGeneratedFiles -update)
// from sync/protocol/schema.go, codes.go and close.go. DO NOT EDIT.
//
// The wire protocol's schema (docs/PROTOCOL.md §2–§6): frame types, bounds,
// error and close codes, the frame and record interfaces, and one table per
// frame body and nested map that codec.ts interprets to encode, decode and
// validate frames exactly as the Go implementation does.

import type { RecordSchema } from './kinds';

`)
	tsDoc(&b, "", "The protocol version a client announces in Hello. Adding a frame type, an optional key or an error code does not bump it; removing or retyping a key does.")
	fmt.Fprintf(&b, "export const ProtocolVersion = %d;\n\n", ProtocolVersion)
	tsDoc(&b, "", "Frame type numbers. Client→server 0x01–0x3f, server→client 0x40–0x7f.")
	b.WriteString("export const FrameType = {\n")
	for _, s := range frameSchemas {
		fmt.Fprintf(&b, "  %s: 0x%02x,\n", s.typ, uint8(s.typ))
	}
	b.WriteString("} as const;\n\n")
	for _, c := range []struct {
		name string
		v    int
		doc  string
	}{
		{"MaxIDBytes", MaxIDBytes, "Every id: workflow, operation, session, user, replica, tab, block."},
		{"MaxTextBytes", MaxTextBytes, "Names, avatar URLs, messages."},
		{"MaxTokenBytes", MaxTokenBytes, "The Hello token."},
		{"MaxDragBlocks", MaxDragBlocks, "Block ids in one Drag frame; the server refuses more with TOO_LARGE."},
		{"MaxDragBytes", MaxDragBytes, "Encoded size of one Drag frame; the server refuses more with TOO_LARGE."},
		{"DefaultMaxFrameBytes", DefaultMaxFrameBytes, "Encoded size of one frame, unless Limits says otherwise."},
		{"DefaultMaxDepth", DefaultMaxDepth, "Nesting of arrays and maps, counting the envelope, unless Limits says otherwise."},
		{"MaxArrayElements", MaxArrayElements, "Array elements in one frame, summed over its arrays."},
		{"MaxMapPairs", MaxMapPairs, "Map pairs in one frame, summed over its maps."},
		{"MaxContainers", MaxContainers, "Arrays and maps in one frame."},
		{"MaxStructKeys", maxStructKeys, "Keys of a map that is a fixed record (every map but Drag.pos and a payload)."},
	} {
		tsDoc(&b, "", c.doc)
		fmt.Fprintf(&b, "export const %s = %d;\n", c.name, c.v)
	}

	b.WriteString("\n/** Error codes by their stable name (§5). */\nexport const Code = {\n")
	for _, c := range Codes() {
		fmt.Fprintf(&b, "  %s: %d,\n", c, c)
	}
	b.WriteString("} as const;\n\n")
	tsDoc(&b, "", "The codes this build knows to be retryable: sending the same request later, unchanged, may succeed.")
	b.WriteString("export const retryableCodes: readonly number[] = [")
	var rs []string
	for _, c := range Codes() {
		if c.Retryable() {
			rs = append(rs, fmt.Sprintf("Code.%s", c))
		}
	}
	b.WriteString(strings.Join(rs, ", ") + "];\n\n")

	b.WriteString("/** Close codes by their stable name (§6). */\nexport const CloseCode = {\n")
	for _, c := range CloseCodes() {
		fmt.Fprintf(&b, "  %s: %d,\n", closeCodes[c].name, c)
	}
	b.WriteString("} as const;\n\n")
	b.WriteString("/** The reason the server sends with each close code. */\nexport const closeReasons: ReadonlyArray<readonly [number, string]> = [\n")
	for _, c := range CloseCodes() {
		fmt.Fprintf(&b, "  [CloseCode.%s, %s],\n", closeCodes[c].name, sq(c.String()))
	}
	b.WriteString("];\n\n")

	// Enumerations, then the records' and frames' interfaces.
	enums := map[string]bool{}
	for _, r := range append(records(), bodies()...) {
		for i := range r.fields {
			f := &r.fields[i]
			if f.rule != ruleEnum || enums[f.goField.Name()] {
				continue
			}
			enums[f.goField.Name()] = true
			vs := make([]string, len(f.values))
			for i, v := range f.values {
				vs[i] = sq(v)
			}
			fmt.Fprintf(&b, "export type %s = %s;\n", f.goField.Name(), strings.Join(vs, " | "))
		}
	}
	for _, r := range records() {
		b.WriteString("\n")
		tsInterface(&b, r.goType.Name(), r, nil)
	}
	for _, s := range frameSchemas {
		b.WriteString("\n")
		tsInterface(&b, tsFrameName(s.typ), s.body, &s.typ)
	}
	var client, server []string
	for _, s := range frameSchemas {
		if s.typ.FromClient() {
			client = append(client, tsFrameName(s.typ))
		} else {
			server = append(server, tsFrameName(s.typ))
		}
	}
	fmt.Fprintf(&b, "\nexport type ClientFrame =\n  | %s;\n", strings.Join(client, "\n  | "))
	fmt.Fprintf(&b, "export type ServerFrame =\n  | %s;\n", strings.Join(server, "\n  | "))
	b.WriteString("export type Frame = ClientFrame | ServerFrame;\n")

	// The tables.
	b.WriteString("\n// ---- the tables codec.ts interprets --------------------------------------\n")
	for _, r := range append(records(), bodies()...) {
		fmt.Fprintf(&b, "\nconst %s: RecordSchema = {\n  name: %s,\n", tsRecordConst(r), sq(r.name))
		if r.rule != ruleNone {
			fmt.Fprintf(&b, "  rule: %s,\n", sq(ruleNames[r.rule]))
		}
		b.WriteString("  fields: [\n")
		for i := range r.fields {
			fmt.Fprintf(&b, "    %s,\n", tsField(&r.fields[i], true))
		}
		b.WriteString("  ],\n};\n")
	}
	b.WriteString("\n/** The body record of each frame type. */\nexport const frameBodies: ReadonlyMap<number, RecordSchema> = new Map([\n")
	for _, s := range frameSchemas {
		fmt.Fprintf(&b, "  [FrameType.%s, %s],\n", s.typ, tsRecordConst(s.body))
	}
	b.WriteString("]);\n")
	return []byte(b.String())
}

func bodies() []*record {
	out := make([]*record, len(frameSchemas))
	for i := range frameSchemas {
		out[i] = frameSchemas[i].body
	}
	return out
}

// ---- docs/PROTOCOL.md ------------------------------------------------------

var (
	beginRe   = regexp.MustCompile(`(?m)^<!-- BEGIN GENERATED ([A-Za-z ]+) -->\n`)
	endMarker = "<!-- END GENERATED -->\n"
	headingRe = regexp.MustCompile(`(?m)^### 4\.\d+ .*$`)
	frameRe   = regexp.MustCompile(`(\w+) \((0x[0-9a-f]{2}), (C→S|S→C)\)`)
)

// renderDoc rewrites the generated blocks of PROTOCOL.md, each between
//
//	<!-- BEGIN GENERATED what [name] -->
//	<!-- END GENERATED -->
//
// where what is "frames", "codes", "close codes", "frame <Name>" or
// "record <name>". Every frame and record must have its block, so that a
// new one cannot be left out of the doc; and each §4 heading that names a
// frame must give its type and direction right.
func renderDoc(doc []byte) ([]byte, error) {
	want := map[string]string{
		"frames":      docFrames(),
		"codes":       docCodes(),
		"close codes": docCloseCodes(),
	}
	for _, s := range frameSchemas {
		want["frame "+s.body.name] = docRecord(s.body, false)
	}
	for _, r := range records() {
		want["record "+r.name] = docRecord(r, true)
	}
	var out bytes.Buffer
	done := map[string]bool{}
	rest := doc
	for {
		loc := beginRe.FindSubmatchIndex(rest)
		if loc == nil {
			out.Write(rest)
			break
		}
		what := string(rest[loc[2]:loc[3]])
		body, ok := want[what]
		if !ok {
			return nil, fmt.Errorf("a generated block %q names nothing in the schema", what)
		}
		if done[what] {
			return nil, fmt.Errorf("generated block %q appears twice", what)
		}
		done[what] = true
		end := bytes.Index(rest[loc[1]:], []byte(endMarker))
		if end < 0 {
			return nil, fmt.Errorf("generated block %q has no end marker", what)
		}
		out.Write(rest[:loc[1]])
		out.WriteString(body)
		out.WriteString(endMarker)
		rest = rest[loc[1]+end+len(endMarker):]
	}
	for what := range want {
		if !done[what] {
			return nil, fmt.Errorf("no generated block %q: add <!-- BEGIN GENERATED %s --> and <!-- END GENERATED --> where it belongs", what, what)
		}
	}
	for _, h := range headingRe.FindAll(doc, -1) {
		for _, m := range frameRe.FindAllSubmatch(h, -1) {
			s, ok := frameByName(string(m[1]))
			dir := "S→C"
			if ok && s.typ.FromClient() {
				dir = "C→S"
			}
			if !ok || fmt.Sprintf("0x%02x", uint8(s.typ)) != string(m[2]) || dir != string(m[3]) {
				return nil, fmt.Errorf("heading %q: %s is not a frame of that type and direction", h, m[0])
			}
		}
	}
	return out.Bytes(), nil
}

func docFrames() string {
	var b strings.Builder
	b.WriteString("| type | name | direction | body keys (* = required) |\n|---|---|---|---|\n")
	for _, s := range frameSchemas {
		dir := "S→C"
		if s.typ.FromClient() {
			dir = "C→S"
		}
		keys := make([]string, len(s.body.fields))
		for i, f := range s.body.fields {
			keys[i] = f.key
			if f.req {
				keys[i] += `\*`
			}
		}
		fmt.Fprintf(&b, "| 0x%02x | %s | %s | %s |\n", uint8(s.typ), s.typ, dir, strings.Join(keys, ", "))
	}
	return b.String()
}

func docCodes() string {
	var b strings.Builder
	b.WriteString("| code | name | retryable | meaning |\n|---|---|---|---|\n")
	for _, c := range Codes() {
		fmt.Fprintf(&b, "| %d | `%s` | %s | %s |\n", c, c, yesNo(c.Retryable()), codes[c].doc)
	}
	return b.String()
}

func docCloseCodes() string {
	var b strings.Builder
	b.WriteString("| code | reason | reconnect | meaning |\n|---|---|---|---|\n")
	for _, c := range CloseCodes() {
		fmt.Fprintf(&b, "| %d | %s | %s | %s |\n", c, c, yesNo(c.ShouldReconnect()), closeCodes[c].doc)
	}
	return b.String()
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

func docRecord(r *record, nested bool) string {
	var b strings.Builder
	if nested {
		fmt.Fprintf(&b, "Map *%s*: %s\n\n", r.name, r.doc)
	}
	b.WriteString("| key | type | req | bounds | meaning |\n|---|---|---|---|---|\n")
	for i := range r.fields {
		f := &r.fields[i]
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", f.key, docType(f), yesNo(f.req), docBounds(r, f), f.doc)
	}
	return b.String()
}

func docType(f *field) string {
	switch f.kind {
	case kindCode:
		return "uint"
	case kindRecord:
		return "map (*" + f.rec.name + "*)"
	case kindRecordOrNil:
		return "map (*" + f.rec.name + "*) or nil"
	case kindList:
		if f.elem.kind == kindRecord {
			return "array of map (*" + f.elem.rec.name + "*)"
		}
		return "array of " + docType(f.elem)
	case kindDict:
		return "map: " + f.keyDoc + " → map (*" + f.rec.name + "*)"
	case kindPayload:
		return "map"
	}
	return kindNames[f.kind]
}

func docBounds(r *record, f *field) string {
	if f.kind == kindFloat && r.rule == ruleFinite {
		return "finite"
	}
	switch f.rule {
	case ruleID:
		if f.req {
			return fmt.Sprintf("1–%d bytes", MaxIDBytes)
		}
		return fmt.Sprintf("≤ %d bytes", MaxIDBytes)
	case ruleText:
		return fmt.Sprintf("≤ %d bytes", f.max)
	case ruleEnum:
		vs := make([]string, len(f.values))
		for i, v := range f.values {
			vs[i] = "`" + v + "`"
		}
		return orList(vs)
	case ruleNonZero:
		if f.kind == kindCode {
			return "1–65535"
		}
		return "≥ 1"
	case ruleNonEmpty:
		if f.kind == kindList && f.elem.rule == ruleID {
			return fmt.Sprintf("non-empty; each 1–%d bytes", MaxIDBytes)
		}
		return "non-empty"
	}
	switch f.kind {
	case kindCode:
		return "≤ 65535"
	case kindDict:
		return fmt.Sprintf("keys 1–%d bytes", MaxIDBytes)
	case kindPayload:
		return "JSON-shaped"
	case kindRecord, kindRecordOrNil:
		switch f.rec.rule {
		case ruleFinite:
			return "finite"
		case ruleSelection:
			return "`id` exactly for `block` and `edge`"
		}
	}
	return ""
}
