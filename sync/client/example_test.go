package client_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/client"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/session"
)

// The examples run against a real flowsync server in the process: rooms on
// the in-memory store behind the websocket handler, with the development
// authenticator (a token "user-id:Display Name").

// startServer starts the server and returns its /v1/sync URL and a stop
// function.
func startServer() (url string, stop func()) {
	reg, err := rooms.NewRegistry(rooms.Config{}, memory.New(), nil, rooms.NewMetrics(nil))
	if err != nil {
		panic(err)
	}
	h, err := session.NewHandler(session.Config{CloseGrace: 200 * time.Millisecond}, reg, session.DevAuthenticator{}, nil, session.NewMetrics(nil))
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/sync", h)
	srv := httptest.NewServer(mux)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/sync", func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.Close(ctx)
		_ = reg.Close(ctx)
		srv.Close()
	}
}

// waitUntil polls cond until it holds; an example that waits longer than
// 10 s has failed.
func waitUntil(what string, cond func() bool) {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			panic("timed out waiting until " + what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// run starts c's connection loop and returns a function that closes c and
// waits for the loop to end.
func run(c *client.Client) (stop func()) {
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background()) }()
	return func() {
		c.Close()
		<-done
	}
}

// Open a client against a server, apply an edit, wait until the server has
// made it durable, and read the view.
func Example() {
	url, stopServer := startServer()
	defer stopServer()

	c, err := client.New(client.Config{
		URL:        url,
		Token:      "u-alice:Alice", // a JWT in production; see docs/DEPLOYMENT.md
		ReplicaID:  "alice-laptop",  // one per device, never shared (or set Dir)
		WorkflowID: "wf-1",
	})
	if err != nil {
		panic(err)
	}
	stop := run(c)
	defer stop()

	// Apply edits the local document at once, connected or not.
	pos := workflow.Position{X: 100, Y: 40}
	if _, err := c.Apply(workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{
		{ID: "b1", Type: "agent", Name: "Writer", Position: &pos}}}); err != nil {
		panic(err)
	}
	fmt.Println("local view:", c.View().Blocks["b1"].Name)

	// Saved: live, and the server has made every edit durable.
	waitUntil("saved", func() bool { return c.Status().String() == "saved" })
	b := c.View().Blocks["b1"]
	fmt.Printf("%s: %s at (%g, %g)\n", c.Status(), b.Name, b.Position.X, b.Position.Y)
	// Output:
	// local view: Writer
	// saved: Writer at (100, 40)
}

// Edits made while offline wait in the outbox and are sent when the client
// connects; another client then sees them.
func Example_offlineThenReconnect() {
	url, stopServer := startServer()
	defer stopServer()
	cfg := func(user, replica string) client.Config {
		return client.Config{URL: url, Token: user, ReplicaID: replica, WorkflowID: "wf-1"}
	}

	// Alice edits before Run: nothing is connected yet.
	alice, err := client.New(cfg("u-alice:Alice", "alice-laptop"))
	if err != nil {
		panic(err)
	}
	if _, err := alice.Apply(workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{
		{ID: "b1", Type: "agent", Name: "Draft"}}}); err != nil {
		panic(err)
	}
	if _, err := alice.Apply(workflow.UpdateName{ID: "b1", NewName: "Final"}); err != nil {
		panic(err)
	}
	fmt.Println("alice:", alice.Status())

	// Connecting sends the outbox.
	stopAlice := run(alice)
	defer stopAlice()
	waitUntil("alice saved", func() bool { return alice.Status().String() == "saved" })
	fmt.Println("alice:", alice.Status())

	bob, err := client.New(cfg("u-bob:Bob", "bob-desktop"))
	if err != nil {
		panic(err)
	}
	stopBob := run(bob)
	defer stopBob()
	waitUntil("bob has b1", func() bool { _, ok := bob.View().Blocks["b1"]; return ok })
	fmt.Println("bob sees:", bob.View().Blocks["b1"].Name)
	// Output:
	// alice: offline (2 pending)
	// alice: saved
	// bob sees: Final
}

// Presence: the roster of the room, and another session's cursor and
// selection through Config.OnPresence. Presence never enters the document.
func Example_presence() {
	url, stopServer := startServer()
	defer stopServer()

	updates := make(chan protocol.PresenceUpdate, 16)
	bob, err := client.New(client.Config{URL: url, Token: "u-bob:Bob", ReplicaID: "bob-desktop", WorkflowID: "wf-1",
		OnPresence: func(u protocol.PresenceUpdate) {
			select {
			case updates <- u:
			default: // never block the client's goroutine
			}
		}})
	if err != nil {
		panic(err)
	}
	stopBob := run(bob)
	defer stopBob()

	alice, err := client.New(client.Config{URL: url, Token: "u-alice:Alice", ReplicaID: "alice-laptop", WorkflowID: "wf-1"})
	if err != nil {
		panic(err)
	}
	stopAlice := run(alice)
	defer stopAlice()
	waitUntil("both in the roster", func() bool { return len(bob.Roster()) == 2 && alice.Status().State == client.StateLive })
	for _, e := range bob.Roster() {
		fmt.Println("roster:", e.UserID, e.Name)
	}

	// SetCursor and SetSelection are throttled (Config.PresenceInterval);
	// the latest state is sent.
	if err := alice.SetCursor(12, 34); err != nil {
		panic(err)
	}
	if err := alice.SetSelection(protocol.SelectBlock, "b1"); err != nil {
		panic(err)
	}
	timeout := time.After(10 * time.Second)
	for seen := false; !seen; {
		select {
		case u := <-updates:
			if u.UserID == "u-alice" && u.Cursor != nil && u.Selection.ID == "b1" {
				fmt.Printf("alice's cursor at (%g, %g), selecting %s %s\n", u.Cursor.X, u.Cursor.Y, u.Selection.Type, u.Selection.ID)
				seen = true
			}
		case <-timeout:
			panic("no presence update from alice")
		}
	}
	// Unordered output:
	// roster: u-alice Alice
	// roster: u-bob Bob
	// alice's cursor at (12, 34), selecting block b1
}
