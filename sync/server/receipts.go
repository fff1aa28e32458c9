package server

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/sync/receipt"
)

// receiptKeyring returns the keys the rooms make and check receipts with:
// the configured ones (a key file shared by every node, needed when nodes
// do not share a store), else the store's (created on first start, shared
// by every node on that store, kept across restarts), else one made for
// this process — which a restart loses, so that clients' receipts from
// before it no longer check (the store cannot keep keys only in memory).
func receiptKeyring(configured []receipt.Key, store storage.Store) (*receipt.Keyring, error) {
	if len(configured) > 0 {
		return receipt.NewKeyring(configured...)
	}
	if ks, ok := store.(storage.KeyStore); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		stored, err := ks.ReceiptKeys(ctx, func() ([]byte, error) {
			secret := make([]byte, receipt.MinSecretSize)
			_, err := rand.Read(secret)
			return secret, err
		})
		if err != nil {
			return nil, fmt.Errorf("flowsync: receipt keys from the store: %w", err)
		}
		keys := make([]receipt.Key, len(stored))
		for i, k := range stored {
			keys[i] = receipt.Key{ID: k.ID, Secret: k.Secret}
		}
		return receipt.NewKeyring(keys...)
	}
	k, err := receipt.NewKey(storage.FirstKeyID)
	if err != nil {
		return nil, err
	}
	return receipt.NewKeyring(k)
}
