package session

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/sync/protocol"
)

// Authenticator verifies a Hello and says who the session is and what it
// may do. It runs on the session's reader goroutine, before anything
// room-related, under the auth deadline (ctx). r is the websocket upgrade
// request (headers, cookies, remote address); the Hello's token may be
// empty when r carries the credentials. An error refuses the session: a
// *protocol.Error gives its code, anything else AUTHENTICATION_FAILED;
// either way the session is closed with 4500. Error messages are sent to
// the client and logged, so they must never contain the token. The
// returned Principal.ReplicaID is the replica the session's deltas must use
// (normally hello.ReplicaID).
type Authenticator interface {
	Authenticate(ctx context.Context, hello *protocol.Hello, r *http.Request) (Principal, error)
}

// DevAuthenticator is the development-mode authenticator: it checks
// nothing. A token "user-id:Display Name" names the user (a token without a
// colon is the user id and the name); an empty token is user "anonymous".
// Every session gets Role in every workflow, and never expires. Never use
// it where tokens matter: the server only accepts it with --dev.
type DevAuthenticator struct {
	// Role is every session's role, in every workflow. Default: admin.
	Role protocol.Role
}

// ErrInvalidIdentity: the dev token's user id or name does not fit the
// protocol's limits.
var ErrInvalidIdentity = errors.New("session: invalid dev identity")

// ErrInvalidGrants: a role is not read, write or admin, or a workflow id
// is empty or too long.
var ErrInvalidGrants = errors.New("session: invalid grants")

// Authenticate implements Authenticator.
func (a DevAuthenticator) Authenticate(_ context.Context, hello *protocol.Hello, _ *http.Request) (Principal, error) {
	role := a.Role
	if role == "" {
		role = protocol.RoleAdmin
	}
	id := Principal{UserID: "anonymous", Name: "Anonymous", ReplicaID: crdt.ReplicaID(hello.ReplicaID), Grants: AllWorkflows(role)}
	if tok := hello.Token; tok != "" {
		uid, name, ok := strings.Cut(tok, ":")
		if !ok {
			name = uid
		}
		id.UserID, id.Name = uid, name
	}
	if id.UserID == "" || len(id.UserID) > protocol.MaxIDBytes || len(id.Name) > protocol.MaxTextBytes {
		return Principal{}, protocol.NewError(protocol.CodeAuthenticationFailed, "%v", ErrInvalidIdentity)
	}
	return id, nil
}
