package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/sync/protocol"
)

// JWTClaims are the claims of a flowsync access token: an HS256 JWT the
// application's backend mints with a secret it shares with the server.
//
//	sub     string  required  the user id (at most 256 bytes)
//	name    string            display name (at most 4096 bytes)
//	avatar  string            avatar URL (at most 4096 bytes)
//	roles   object            workflow id → "read" | "write" | "admin";
//	                          the key "*" is every workflow without its own
//	                          entry. Absent or empty: the session can join
//	                          nothing (ACCESS_DENIED).
//	rid     [string]          optional: the replica ids (Hello.rid) the token
//	                          may use; when present, a Hello with another
//	                          non-empty rid is refused
//	exp     number  required  expiry (Unix seconds); the session is closed
//	                          with 4004 when it passes (plus the leeway)
//	aud     string or [string]  required  must be, or contain, JWTConfig.Audience (RFC 7519 §4.1.3)
//	iss     string            must equal JWTConfig.Issuer when that is set
//	iat     number            issue time; recommended (role changes made on
//	                          the server apply to tokens issued before them)
//	nbf     number            not before, checked when present
//
// The header's alg must be HS256; kid, when present, selects the key.
type JWTClaims struct {
	Name       string                   `json:"name,omitempty"`
	Avatar     string                   `json:"avatar,omitempty"`
	Roles      map[string]protocol.Role `json:"roles,omitempty"`
	ReplicaIDs []string                 `json:"rid,omitempty"`
	jwt.RegisteredClaims
}

// JWTKey is one HS256 secret. Several keys allow rotation: tokens name
// theirs with the kid header; a token without kid is tried against every
// key.
type JWTKey struct {
	ID     string // the kid; may be empty when there is a single key
	Secret []byte // at least 32 bytes
}

// JWTConfig configures a JWTAuthenticator.
type JWTConfig struct {
	// Keys are the accepted HS256 secrets (at least one). Required.
	Keys []JWTKey
	// Audience is the required aud claim. Required.
	Audience string
	// Issuer, when set, is the required iss claim. Default: not checked.
	Issuer string
	// Leeway is the clock skew allowed on exp, nbf and iat, at most 60 s.
	// Default: 30 s.
	Leeway time.Duration
	// MaxLifetime refuses tokens whose exp lies more than this after their
	// iat (or, without iat, after now). Keep it at most
	// Config.GrantOverrideTTL so that a role change outlives every token
	// issued before it. Default: 24 h.
	MaxLifetime time.Duration
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// Defaults and bounds of JWTConfig.
const (
	DefaultJWTLeeway      = 30 * time.Second
	MaxJWTLeeway          = 60 * time.Second
	DefaultJWTMaxLifetime = 24 * time.Hour
	MinJWTSecretBytes     = 32
)

// JWTAuthenticator verifies Hello tokens as HS256 JWTs (see JWTClaims).
// Every refusal is AUTHENTICATION_FAILED (close 4500) with a short reason
// that never contains the token.
type JWTAuthenticator struct {
	cfg    JWTConfig
	parser *jwt.Parser
	byID   map[string][]byte
	all    jwt.VerificationKeySet
}

var _ Authenticator = (*JWTAuthenticator)(nil)

// NewJWTAuthenticator returns an authenticator for cfg, or an error naming
// the unusable field.
func NewJWTAuthenticator(cfg JWTConfig) (*JWTAuthenticator, error) {
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultJWTLeeway
	}
	if cfg.MaxLifetime == 0 {
		cfg.MaxLifetime = DefaultJWTMaxLifetime
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var errs []error
	if len(cfg.Keys) == 0 {
		errs = append(errs, errors.New("session: JWTConfig.Keys: at least one key is required"))
	}
	if cfg.Audience == "" {
		errs = append(errs, errors.New("session: JWTConfig.Audience is required"))
	}
	if cfg.Leeway < 0 || cfg.Leeway > MaxJWTLeeway {
		errs = append(errs, fmt.Errorf("session: JWTConfig.Leeway must be between 0 and %v", MaxJWTLeeway))
	}
	if cfg.MaxLifetime < 0 {
		errs = append(errs, errors.New("session: JWTConfig.MaxLifetime must not be negative"))
	}
	a := &JWTAuthenticator{cfg: cfg, byID: make(map[string][]byte)}
	for i, k := range cfg.Keys {
		if len(k.Secret) < MinJWTSecretBytes {
			errs = append(errs, fmt.Errorf("session: JWTConfig.Keys[%d]: the secret must be at least %d bytes", i, MinJWTSecretBytes))
		}
		if _, dup := a.byID[k.ID]; dup {
			errs = append(errs, fmt.Errorf("session: JWTConfig.Keys[%d]: duplicate key id %q", i, k.ID))
		}
		a.byID[k.ID] = k.Secret
		a.all.Keys = append(a.all.Keys, k.Secret)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithAudience(cfg.Audience),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(cfg.Now),
		jwt.WithStrictDecoding(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	a.parser = jwt.NewParser(opts...)
	return a, nil
}

// errUnknownKey: the token's kid names no configured key.
var errUnknownKey = errors.New("unknown key id")

func (a *JWTAuthenticator) key(t *jwt.Token) (any, error) {
	if t.Method.Alg() != jwt.SigningMethodHS256.Alg() { // also checked by the parser; belt and braces
		return nil, jwt.ErrTokenSignatureInvalid
	}
	if kid, ok := t.Header["kid"]; ok {
		id, _ := kid.(string)
		k, ok := a.byID[id]
		if !ok {
			return nil, errUnknownKey
		}
		return k, nil
	}
	return a.all, nil
}

// Authenticate implements Authenticator.
func (a *JWTAuthenticator) Authenticate(_ context.Context, hello *protocol.Hello, _ *http.Request) (Principal, error) {
	if hello.Token == "" {
		return Principal{}, refuse("no token")
	}
	var c JWTClaims
	if _, err := a.parser.ParseWithClaims(hello.Token, &c, a.key); err != nil {
		return Principal{}, refuse(jwtReason(err))
	}
	switch {
	case c.Subject == "":
		return Principal{}, refuse("claim sub is required")
	case len(c.Subject) > protocol.MaxIDBytes:
		return Principal{}, refuse("claim sub is too long")
	case len(c.Name) > protocol.MaxTextBytes, len(c.Avatar) > protocol.MaxTextBytes:
		return Principal{}, refuse("claim name or avatar is too long")
	}
	exp := c.ExpiresAt.Time
	from := a.cfg.Now()
	if c.IssuedAt != nil {
		from = c.IssuedAt.Time
	}
	if exp.Sub(from) > a.cfg.MaxLifetime+a.cfg.Leeway {
		return Principal{}, refuse(fmt.Sprintf("token lifetime exceeds %v", a.cfg.MaxLifetime))
	}
	if c.ReplicaIDs != nil && hello.ReplicaID != "" && !slices.Contains(c.ReplicaIDs, hello.ReplicaID) {
		return Principal{}, refuse("the token does not allow this replica id (claim rid)")
	}
	g, err := grantsFromClaim(c.Roles)
	if err != nil {
		return Principal{}, refuse("claim roles: " + err.Error())
	}
	p := Principal{
		UserID: c.Subject, Name: c.Name, Avatar: c.Avatar,
		ReplicaID: crdt.ReplicaID(hello.ReplicaID),
		Grants:    g,
		ExpiresAt: exp.Add(a.cfg.Leeway),
	}
	if p.Name == "" {
		p.Name = p.UserID
	}
	if c.IssuedAt != nil {
		p.IssuedAt = c.IssuedAt.Time
	}
	return p, nil
}

func grantsFromClaim(roles map[string]protocol.Role) (Grants, error) {
	var g Grants
	for wf, r := range roles {
		if !r.Valid() {
			return Grants{}, fmt.Errorf("role %q is not read, write or admin", r)
		}
		if wf == Wildcard {
			g.All = r
			continue
		}
		if wf == "" || len(wf) > protocol.MaxIDBytes {
			return Grants{}, errors.New("a workflow id is empty or too long")
		}
		if g.Workflows == nil {
			g.Workflows = make(map[string]protocol.Role, len(roles))
		}
		g.Workflows[wf] = r
	}
	return g, nil
}

func refuse(reason string) *protocol.Error {
	return protocol.NewError(protocol.CodeAuthenticationFailed, "token refused: %s", reason)
}

// jwtReason names why golang-jwt refused a token, in words that never
// quote the token.
func jwtReason(err error) string {
	switch {
	case errors.Is(err, errUnknownKey):
		return "unknown key id (kid)"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "bad signature or algorithm not allowed (HS256 only)"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "algorithm not allowed (HS256 only)"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "a required claim is missing (exp, aud)"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "token not valid yet (nbf, iat)"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong audience (aud)"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong issuer (iss)"
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		return "invalid claims"
	}
	return "invalid token"
}
