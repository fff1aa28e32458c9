package memory

import (
	"context"

	"github.com/flowsync/flowsync/storage"
)

var (
	_ storage.KeyStore        = (*Store)(nil)
	_ storage.TombstoneReader = (*Store)(nil)
)

// ReceiptKeys implements storage.KeyStore: the key lives as long as the
// Store value, like everything else it holds.
func (s *Store) ReceiptKeys(ctx context.Context, newKey func() ([]byte, error)) ([]storage.SecretKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, storage.ErrClosed
	}
	if s.keys == nil {
		secret, err := newKey()
		if err != nil {
			return nil, err
		}
		s.keys = []storage.SecretKey{{ID: storage.FirstKeyID, Secret: secret}}
	}
	return append([]storage.SecretKey(nil), s.keys...), nil
}

// IsDeleted implements storage.TombstoneReader.
func (s *Store) IsDeleted(ctx context.Context, workflowID string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, storage.ErrClosed
	}
	return s.deleted[workflowID], nil
}
