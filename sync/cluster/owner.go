package cluster

import "hash/fnv"

// OwnerOf picks, by rendezvous (highest random weight) hashing, the node of
// nodes that should serve workflowID's clients: every caller with the same
// node list picks the same node, and removing a node moves only the
// workflows it owned. It returns "" for an empty list.
//
// It is a routing optimization (one room per document means fewer bus
// messages and no cross-node lag between that document's editors), put in a
// load balancer or a redirect. Correctness never depends on it: any node can
// serve any document, and nodes that disagree on the node list only cost
// bus traffic.
func OwnerOf(workflowID string, nodes []string) string {
	best, bestScore := "", uint64(0)
	for _, n := range nodes {
		s := rendezvousScore(n, workflowID)
		if best == "" || s > bestScore || (s == bestScore && n > best) {
			best, bestScore = n, s
		}
	}
	return best
}

// rendezvousScore hashes (node, workflow) with FNV-1a and a final mix
// (splitmix64's), stable across processes and versions.
func rendezvousScore(node, workflowID string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(node))
	h.Write([]byte{0})
	h.Write([]byte(workflowID))
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
