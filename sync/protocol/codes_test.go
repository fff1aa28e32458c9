package protocol

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/flowsync/flowsync/crdt/msgpackx"
	"github.com/flowsync/flowsync/crdt/workflow"
)

func TestCodeNamesAreUniqueAndStable(t *testing.T) {
	seen := map[string]Code{}
	for _, c := range Codes() {
		name := c.String()
		if other, dup := seen[name]; dup {
			t.Errorf("codes %d and %d share the name %s", c, other, name)
		}
		seen[name] = c
		if !regexp.MustCompile(`^[A-Z][A-Z_]+$`).MatchString(name) {
			t.Errorf("code %d has name %q", c, name)
		}
	}
	for c, want := range map[Code]string{CodeInvalidFrame: "INVALID_FRAME", CodeForgedDot: "FORGED_DOT", 999: "CODE_999"} {
		if c.String() != want {
			t.Errorf("Code(%d).String() = %q, want %q", c, c.String(), want)
		}
	}
	for _, c := range []Code{CodeRateLimited, CodeOverloaded, CodeStorageUnavailable, CodeInternal, CodeNotJoined} {
		if !c.Retryable() {
			t.Errorf("%v should be retryable", c)
		}
	}
	for _, c := range []Code{CodeInvalidFrame, CodeForgedDot, CodeClockSkew, CodePermissionDenied, 999} {
		if c.Retryable() {
			t.Errorf("%v should not be retryable", c)
		}
	}
}

// workflowSentinels lists every workflow.Err* sentinel. The test below reads
// the workflow sources, so a sentinel added there without a mapping here
// fails the build's tests rather than silently becoming INTERNAL.
var workflowSentinels = map[string]error{
	"ErrInvalid": workflow.ErrInvalid, "ErrUnknownBlock": workflow.ErrUnknownBlock,
	"ErrUnknownEdge": workflow.ErrUnknownEdge, "ErrUnknownVariable": workflow.ErrUnknownVariable,
	"ErrExists": workflow.ErrExists, "ErrLocked": workflow.ErrLocked,
	"ErrNameConflict": workflow.ErrNameConflict, "ErrEdgeRejected": workflow.ErrEdgeRejected,
	"ErrNotContainer": workflow.ErrNotContainer, "ErrPrecondition": workflow.ErrPrecondition,
	"ErrNoEffect": workflow.ErrNoEffect, "ErrMalformed": workflow.ErrMalformed,
	"ErrFormatVersion": workflow.ErrFormatVersion, "ErrNotCanonical": workflow.ErrNotCanonical,
	"ErrOutOfDomain": workflow.ErrOutOfDomain, "ErrTooManyRanges": workflow.ErrTooManyRanges,
	"ErrTooManyValues": workflow.ErrTooManyValues, "ErrTooManyReplicas": workflow.ErrTooManyReplicas,
	"ErrTooManyValueNodes": workflow.ErrTooManyValueNodes, "ErrTooManyNodes": workflow.ErrTooManyNodes,
}

func TestCodeForMapsEveryWorkflowSentinel(t *testing.T) {
	want := map[error]Code{
		workflow.ErrInvalid: CodeInvalidOperation, workflow.ErrNotContainer: CodeInvalidOperation,
		workflow.ErrUnknownBlock: CodeUnknownEntity, workflow.ErrUnknownEdge: CodeUnknownEntity,
		workflow.ErrUnknownVariable: CodeUnknownEntity, workflow.ErrExists: CodeConflict,
		workflow.ErrNameConflict: CodeConflict, workflow.ErrEdgeRejected: CodeConflict,
		workflow.ErrLocked: CodeBlockLocked, workflow.ErrPrecondition: CodePreconditionFailed,
		workflow.ErrNoEffect: CodeNoEffect, workflow.ErrMalformed: CodeInvalidDelta,
		workflow.ErrFormatVersion: CodeInvalidDelta, workflow.ErrNotCanonical: CodeInvalidDelta,
		workflow.ErrOutOfDomain: CodeInvalidDelta,
		// Over a count cap: the content is admitted cut into several
		// deltas, as for a delta over its byte limit.
		workflow.ErrTooManyRanges: CodeTooLarge, workflow.ErrTooManyValues: CodeTooLarge,
		workflow.ErrTooManyReplicas: CodeTooLarge, workflow.ErrTooManyValueNodes: CodeTooLarge,
		workflow.ErrTooManyNodes: CodeTooLarge,
	}
	for name, err := range workflowSentinels {
		wrapped := fmt.Errorf("op on block b-1: %w", err)
		if got := CodeFor(wrapped); got != want[err] {
			t.Errorf("CodeFor(%s) = %v, want %v", name, got, want[err])
		}
	}
	// Every sentinel declared in the workflow package is listed above.
	re := regexp.MustCompile(`(?m)^\s*(Err[A-Za-z0-9]+)\s*=\s*errors\.New`)
	files, _ := os.ReadDir("../../crdt/workflow")
	for _, f := range files {
		if f.IsDir() || !strings.HasSuffix(f.Name(), ".go") || strings.HasSuffix(f.Name(), "_test.go") {
			continue
		}
		src, err := os.ReadFile("../../crdt/workflow/" + f.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(src, -1) {
			if _, ok := workflowSentinels[string(m[1])]; !ok {
				t.Errorf("workflow.%s (in %s) has no mapping in CodeFor and this test", m[1], f.Name())
			}
		}
	}

	tooBig := fmt.Errorf("%w: %w", workflow.ErrMalformed, msgpackx.ErrTooLarge)
	for err, want := range map[error]Code{
		tooBig: CodeTooLarge,
		NewError(CodeClockSkew, "ahead by %d ms", 400000):      CodeClockSkew,
		fmt.Errorf("wrapped: %w", NewError(CodeForgedDot, "")): CodeForgedDot,
		errors.New("boom"): CodeInternal,
	} {
		if got := CodeFor(err); got != want {
			t.Errorf("CodeFor(%v) = %v, want %v", err, got, want)
		}
	}
	_, err := Decode([]byte("ping"), Limits{})
	if got := CodeFor(err); got != CodeInvalidFrame {
		t.Errorf("CodeFor(decode error) = %v", got)
	}
	_, err = Decode(make([]byte, DefaultMaxFrameBytes+1), Limits{})
	if got := CodeFor(err); got != CodeTooLarge {
		t.Errorf("CodeFor(oversize) = %v", got)
	}
	if CodeFor(nil) != 0 {
		t.Error("CodeFor(nil) != 0")
	}
}

func TestErrorIsAnErrorAndAFrame(t *testing.T) {
	var err error = NewError(CodeStorageUnavailable, "store down")
	var pe *Error
	if !errors.As(err, &pe) || !pe.Retryable || pe.Type() != FrameError {
		t.Fatalf("%#v", err)
	}
	if err.Error() != "protocol: STORAGE_UNAVAILABLE: store down" {
		t.Errorf("Error() = %q", err.Error())
	}
}

func TestCloseCodeRanges(t *testing.T) {
	for _, c := range CloseCodes() {
		want := true
		switch {
		case c == CloseNormal, c == ClosePolicyViolation, c == CloseMessageTooBig, c >= 4500:
			want = false
		}
		if c.ShouldReconnect() != want {
			t.Errorf("%d (%v).ShouldReconnect() = %v", c, c, !want)
		}
		if c.String() == "" || len(c.String()) > 123 {
			t.Errorf("%d: bad reason %q", c, c.String())
		}
		if c >= 4000 && !(c <= 4006 || (c >= 4500 && c <= 4504)) {
			t.Errorf("%d is outside the documented ranges", c)
		}
	}
	for c, want := range map[CloseCode]bool{1006: true, 1015: true, 3000: true, 4100: true, 4499: true, 4500: false, 4999: false} {
		if c.ShouldReconnect() != want {
			t.Errorf("CloseCode(%d).ShouldReconnect() = %v, want %v", c, !want, want)
		}
	}
}
