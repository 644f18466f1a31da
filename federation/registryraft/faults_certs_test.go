package registryraft_test

import (
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/raftnet/raftnettest"
)

// resetLinks closes every connection between tn and the other nodes, so
// that they handshake again (Raft and gRPC alike).
func resetLinks(c *cluster, network *raftnettest.Network, tn *testNode) int {
	n := 0
	for _, o := range others(c, tn) {
		n += network.Link(tn.name, o.name).Reset()
	}
	return n
}

// TestFaultCertificateRotation: in rounds, under the clients' load, each
// node in turn gets a new certificate (same identity, new key and serial)
// that its TLS source reloads, and its connections are reset so that they
// handshake again with the new certificates; once every node is rotated,
// the old certificates are revoked (the members' CRLs published and
// reloaded) and every connection is reset again. No write fails (each may
// wait up to 30 s); at the end nothing is lost and the state machines
// agree, which needs every node to reach the others with its new
// certificate.
func TestFaultCertificateRotation(t *testing.T) {
	forSizes(t, func(t *testing.T, n int) {
		c, network := faultCluster(t, n, faultTimeouts())
		c.waitLeader(30 * time.Second)
		w := startWorkload(t, "certificate-rotation", c, c.nodes, workloadOptions{strict: true})
		w.progress("before any fault", 0, 20, 30*time.Second)
		deadline := time.Now().Add(soak(t, time.Second))
		for round := 0; round < 1 || time.Now().Before(deadline); round++ {
			old := map[string][]*big.Int{} // serials to revoke, by member
			for _, tn := range c.nodes {
				before := tn.src.Certificate().Leaf.SerialNumber
				c.fed.Node(tn.member, tn.name) // a new key and certificate, in the same files
				changed, err := tn.src.Reload()
				if err != nil || !changed {
					w.halt()
					t.Fatalf("round %d: %s: reload after re-issuing: changed %v, err %v", round, tn.name, changed, err)
				}
				after := tn.src.Certificate().Leaf.SerialNumber
				if after.Cmp(before) == 0 || tn.src.Identity() != tn.id {
					w.halt()
					t.Fatalf("round %d: %s: serial %s -> %s, identity %s: not a new certificate of the same node", round, tn.name, before, after, tn.src.Identity())
				}
				old[tn.member] = append(old[tn.member], before)
				k := resetLinks(c, network, tn)
				w.faults.Add(1)
				w.progress(fmt.Sprintf("round %d: %s rotated (%d connections reset)", round, tn.name, k), w.acks.Load(), 20, 30*time.Second)
			}
			for member, serials := range old {
				for _, s := range serials {
					if err := c.fed.CAs[member].Revoke(s, 1, time.Now()); err != nil {
						w.halt()
						t.Fatal(err)
					}
				}
				c.fed.PublishCRL(member)
			}
			for _, tn := range c.nodes {
				if changed, err := tn.src.Reload(); err != nil || !changed {
					w.halt()
					t.Fatalf("round %d: %s: reload of the CRLs: changed %v, err %v", round, tn.name, changed, err)
				}
				if err := tn.src.SelfCheck(); err != nil {
					t.Errorf("round %d: %s: own certificate after the old ones were revoked: %v", round, tn.name, err)
				}
			}
			k := 0
			for _, tn := range c.nodes {
				k += resetLinks(c, network, tn)
			}
			w.faults.Add(1)
			w.progress(fmt.Sprintf("round %d: old certificates revoked (%d connections reset)", round, k), w.acks.Load(), 20, 30*time.Second)
		}
		waitLeaderAmong(w, "at the end", c.nodes, 30*time.Second)
		w.finish(c.nodes)
	})
}
