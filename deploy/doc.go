// Package deploy holds the files that run flowsync under systemd: the
// unit (flowsync.service) and its environment file (flowsync.env). It has
// no code; its test builds the binary and starts the unit's command line
// with the environment file, as systemd would.
package deploy
