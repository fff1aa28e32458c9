// The flowsync wire protocol: frames, codes, close codes and the strict
// codec. A port of the Go package sync/protocol; docs/PROTOCOL.md is the
// contract.
export * from './frames';
export * from './codes';
export * from './close';
export { FrameDecodeError, type FrameDecodeErrorKind } from './errors';
