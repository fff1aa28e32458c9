// The text CRDT: a port of Go's crdt/text with the same semantics and the
// same bytes (docs/PROTOCOL.md, "Text deltas").

export { admit } from './admit';
export { decodeDelta, maxDecodedItems, TextDeltaLimits, TextStateLimits } from './decode';
export { emptyDelta, isEmptyDelta, noDot, type Dead, type Delta, type Run } from './delta';
export { encodeDelta, FormatVersion } from './encode';
export { TextError, type TextErrorCode } from './errors';
export { loadState } from './load';
export { Text, type Anchor, type Piece, type TextChange } from './text';
export { codePointToUtf16, diffText, utf16ToCodePoint } from './utf16';
export { TextBinding, type RemoteUpdate, type Selection } from './binding';
