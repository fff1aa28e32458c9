package faults

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestSmoke(t *testing.T) {
	d := SingleBolt(t)
	var eds []*Editor
	for _, name := range []string{"ann", "bob"} {
		eds = append(eds, NewEditor(t, EditorConfig{Name: name, Workflow: "wf", Target: d.Nodes[0].Addr}))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 100 {
		for _, e := range eds {
			if err := e.Step(rng, Shared, i); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	w := d.World(eds)
	healed := time.Now()
	c := w.Verify(healed, 20*time.Second)
	c.Scenario = "smoke"
	c.Report(t)
}
