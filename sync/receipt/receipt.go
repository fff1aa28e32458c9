// Package receipt lets a flowsync deployment vouch for the deltas it
// admitted. Every delta a server sends a client (a relayed edit, a catch-up
// chunk) carries a receipt: a MAC over the workflow id and the delta's exact
// bytes under a key every node of the deployment holds. A client keeps what
// it received with the receipt until the server says it is durable, so that
// when a crash or a failover loses an edit the server had relayed, any
// client that holds it can hand it back, and any node can check that it is
// an edit some node admitted — not content a client made up under another
// replica's dots.
//
// Receipts are symmetric MACs, not signatures: only servers verify them, and
// servers hold the key anyway. HMAC-SHA256 truncated to 128 bits costs about
// one microsecond per kilobyte, once per relayed frame, not per member.
//
// What this package must never do: accept a receipt made under a key it does
// not hold, or compare MACs in variable time.
package receipt

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sync"
)

// Sentinel errors of Verify; test with errors.Is.
var (
	// ErrUnknownKey: the receipt names a key this node does not hold (retired,
	// or the deployment's nodes do not share keys).
	ErrUnknownKey = errors.New("receipt: unknown key id")
	// ErrMismatch: the MAC does not match the workflow id and bytes.
	ErrMismatch = errors.New("receipt: MAC does not match")
)

// MACSize is the length of a receipt's MAC in bytes.
const MACSize = 16

// MinSecretSize is the shortest key secret accepted.
const MinSecretSize = 32

// MaxKeyIDLen bounds a key id, which travels in every receipt.
const MaxKeyIDLen = 16

// domain separates these MACs from any other use of the key.
const domain = "flowsync receipt v1\x00"

// Key is one deployment key.
type Key struct {
	ID     string // 1–16 bytes of [A-Za-z0-9_-]
	Secret []byte // at least MinSecretSize random bytes
}

// Receipt vouches for one delta of one workflow.
type Receipt struct {
	KeyID string
	MAC   []byte // MACSize bytes
}

// Keyring signs with its current key and verifies with any key it holds,
// so keys can be rotated: add the new key as current, keep the old ones
// until every client has reconnected (receipts are kept only until the
// server says the delta is durable), then drop them. Safe for concurrent use.
type Keyring struct {
	current *macKey
	byID    map[string]*macKey
}

type macKey struct {
	id   string
	pool sync.Pool // of *macState under this key
}

// macState is one HMAC under a key and the scratch its input prefix and
// sum are built in, reused so that a MAC costs no allocation.
type macState struct {
	h       hash.Hash
	scratch []byte
}

// NewKeyring returns a keyring that signs with keys[0] and verifies with
// any of keys.
func NewKeyring(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("receipt: no keys")
	}
	k := &Keyring{byID: make(map[string]*macKey, len(keys))}
	for i, key := range keys {
		if err := checkKeyID(key.ID); err != nil {
			return nil, err
		}
		if len(key.Secret) < MinSecretSize {
			return nil, fmt.Errorf("receipt: key %q has %d secret bytes, want at least %d", key.ID, len(key.Secret), MinSecretSize)
		}
		if _, dup := k.byID[key.ID]; dup {
			return nil, fmt.Errorf("receipt: key id %q given twice", key.ID)
		}
		secret := append([]byte(nil), key.Secret...)
		mk := &macKey{id: key.ID}
		mk.pool.New = func() any {
			return &macState{h: hmac.New(sha256.New, secret), scratch: make([]byte, 0, 64+binary.MaxVarintLen64)}
		}
		k.byID[key.ID] = mk
		if i == 0 {
			k.current = mk
		}
	}
	return k, nil
}

// NewKey returns a key with a fresh random secret.
func NewKey(id string) (Key, error) {
	if err := checkKeyID(id); err != nil {
		return Key{}, err
	}
	secret := make([]byte, MinSecretSize)
	if _, err := rand.Read(secret); err != nil {
		return Key{}, err
	}
	return Key{ID: id, Secret: secret}, nil
}

// CurrentKeyID returns the id of the key new receipts are made with.
func (k *Keyring) CurrentKeyID() string { return k.current.id }

// Sign returns the receipt for delta, the exact bytes sent, in workflowID.
func (k *Keyring) Sign(workflowID string, delta []byte) Receipt {
	return Receipt{KeyID: k.current.id, MAC: k.current.sum(nil, workflowID, delta)}
}

// Verify returns nil if r vouches for delta in workflowID, else an error
// wrapping ErrUnknownKey or ErrMismatch.
func (k *Keyring) Verify(workflowID string, delta []byte, r Receipt) error {
	mk := k.byID[r.KeyID]
	if mk == nil {
		return fmt.Errorf("%w %q", ErrUnknownKey, r.KeyID)
	}
	var buf [MACSize]byte
	if len(r.MAC) != MACSize || !hmac.Equal(mk.sum(buf[:0], workflowID, delta), r.MAC) {
		return ErrMismatch
	}
	return nil
}

func (mk *macKey) sum(dst []byte, workflowID string, delta []byte) []byte {
	st := mk.pool.Get().(*macState)
	st.h.Reset()
	b := append(st.scratch[:0], domain...)
	b = binary.AppendUvarint(b, uint64(len(workflowID)))
	b = append(b, workflowID...)
	st.h.Write(b)
	st.h.Write(delta)
	b = st.h.Sum(b[:0])
	dst = append(dst, b[:MACSize]...)
	st.scratch = b[:0]
	mk.pool.Put(st)
	return dst
}

func checkKeyID(id string) error {
	if id == "" || len(id) > MaxKeyIDLen {
		return fmt.Errorf("receipt: key id %q must be 1–%d bytes", id, MaxKeyIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("receipt: key id %q: only letters, digits, - and _", id)
		}
	}
	return nil
}
