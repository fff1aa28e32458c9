package server

import "github.com/flowsync/flowsync/sync/protocol"

func protocolRole(r string) protocol.Role {
	if r == "" {
		return protocol.RoleAdmin
	}
	return protocol.Role(r)
}
