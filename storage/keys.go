package storage

import "context"

// SecretKey is a deployment key kept by a store: what the server's receipts
// (package sync/receipt) are made with. Storage keeps it as opaque bytes.
type SecretKey struct {
	ID     string
	Secret []byte
}

// FirstKeyID is the id of the key a store creates when it holds none.
const FirstKeyID = "k1"

// KeyStore is implemented by stores that keep the deployment's receipt
// keys, so that every node sharing the store vouches with the same key and
// a restart keeps it: a receipt a client holds must still check after the
// server that made it was killed.
type KeyStore interface {
	// ReceiptKeys returns the stored keys, the current one first. If none
	// is stored it stores newKey (with id FirstKeyID) first; nodes starting
	// at once all get the one key that won.
	ReceiptKeys(ctx context.Context, newKey func() ([]byte, error)) ([]SecretKey, error)
}

// TombstoneReader is implemented by stores that can say whether a workflow
// was deleted without loading it. A node asked about a workflow it does not
// host answers from the store, not from what it remembers, so a deletion
// made before a restart, or by another node, is never forgotten.
type TombstoneReader interface {
	// IsDeleted reports whether workflowID was deleted.
	IsDeleted(ctx context.Context, workflowID string) (bool, error)
}
