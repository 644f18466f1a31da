package main

import (
	"sync"
	"syscall"
	"testing"
	"time"
)

// faultReport logs a scenario's figures in one line (docs/RELIABILITY.md
// copies them).
func faultReport(t *testing.T, name string, nodes, faults int, st workloadStats, began time.Time) {
	t.Helper()
	t.Logf("RESULT %s: nodes=%d faults=%d writes=%d acked=%d unknown=%d unknown_applied=%d reads=%d passed=%v wall=%s",
		name, nodes, faults, st.writes, st.acked, st.unknown, st.unknownApplied, st.reads, !t.Failed(), time.Since(began).Round(100*time.Millisecond))
}

// TestRegistryProcessFaults runs the registry's fault scenarios against
// real accordd processes: each founds a federation, runs the workload of
// faults_workload_test.go, injects its faults (signals, a full disk, a
// damaged file) and checks the history. CI runs a short version of each;
// with ACCORD_SOAK=<duration> each runs its faults in a loop for that long.
func TestRegistryProcessFaults(t *testing.T) {
	bin := buildAccordd(t)
	t.Run("leader_sigkill", func(t *testing.T) { testLeaderKill(t, bin, "UA", "PL", "DE") })
	t.Run("follower_sigkill_snapshot_catchup", func(t *testing.T) { testFollowerKill(t, bin) })
	t.Run("cluster_sigkill", func(t *testing.T) { testClusterKill(t, bin) })
	t.Run("leader_sigstop", func(t *testing.T) { testLeaderPause(t, bin) })
}

var three = []string{"UA", "PL", "DE"}

// testLeaderKill: the leader is killed (SIGKILL) under load, the others
// elect a leader and go on, and the killed node restarts and catches up;
// in a loop while soaking.
func testLeaderKill(t *testing.T, bin string, members ...string) {
	began := time.Now()
	c := startCluster(t, bin, clusterOptions{snapshotThreshold: 256, trailingLogs: 128}, members...)
	w := newWorkload(t, c, 2, 256)
	w.run(2, 1)
	end := time.Now().Add(soak(t, 0))
	faults := 0
	for faults == 0 || time.Now().Before(end) {
		w.waitAcked(30, time.Minute)
		l := c.leader()
		l.kill()
		faults++
		w.waitAcked(30, time.Minute) // a new leader serves the others' writes
		l.restart()
	}
	w.waitAcked(30, time.Minute)
	st := w.check()
	faultReport(t, "leader SIGKILL", len(members), faults, st, began)
}

// testFollowerKill: a follower is killed, the others apply many more
// writes (beyond the log the leader retains after a snapshot; 10,000 while
// soaking), and the follower restarts and catches up by the leader's
// snapshot.
func testFollowerKill(t *testing.T, bin string) {
	began := time.Now()
	c := startCluster(t, bin, clusterOptions{snapshotThreshold: 64, trailingLogs: 32}, three...)
	w := newWorkload(t, c, 2, 256)
	w.run(2, 1)
	more := int64(250)
	if soaking() {
		more = 10000
	}
	end := time.Now().Add(soak(t, 0))
	faults := 0
	for faults == 0 || time.Now().Before(end) {
		w.waitAcked(20, time.Minute)
		f := c.others(c.leader())[0]
		f.kill()
		faults++
		w.waitAcked(more, 10*time.Minute)
		f.restart()
		p := f.current()
		eventually(t, time.Minute, func() error {
			if !p.log.has("Installed remote snapshot") {
				return errorf("%s has not installed the leader's snapshot", f.member)
			}
			return nil
		})
	}
	w.waitAcked(20, time.Minute)
	st := w.check()
	faultReport(t, "follower SIGKILL, restart after more writes (catch-up by snapshot)", 3, faults, st, began)
}

// testClusterKill: every node is killed at once under load and the whole
// federation restarts: nothing acknowledged is lost (each node fsyncs its
// log before acknowledging).
func testClusterKill(t *testing.T, bin string) {
	began := time.Now()
	c := startCluster(t, bin, clusterOptions{snapshotThreshold: 256, trailingLogs: 128}, three...)
	w := newWorkload(t, c, 2, 256)
	w.run(2, 1)
	end := time.Now().Add(soak(t, 0))
	faults := 0
	for faults == 0 || time.Now().Before(end) {
		w.waitAcked(40, time.Minute)
		var wg sync.WaitGroup
		for _, n := range c.nodes {
			wg.Add(1)
			go func() { defer wg.Done(); n.kill() }()
		}
		wg.Wait()
		faults += len(c.nodes)
		for _, n := range c.nodes {
			n.start()
		}
		for _, n := range c.nodes {
			if err := n.waitStarted(30 * time.Second); err != nil {
				t.Fatal(err)
			}
		}
	}
	w.waitAcked(40, time.Minute)
	st := w.check()
	faultReport(t, "whole cluster SIGKILL and restart", 3, faults, st, began)
}

// testLeaderPause: the leader is paused (SIGSTOP) under load for longer
// than an election; the others elect a leader and go on; resumed
// (SIGCONT), the old leader must not serve stale reads or lose writes, and
// steps down.
func testLeaderPause(t *testing.T, bin string) {
	began := time.Now()
	c := startCluster(t, bin, clusterOptions{snapshotThreshold: 256, trailingLogs: 128}, three...)
	w := newWorkload(t, c, 2, 1)
	w.run(2, 2)
	end := time.Now().Add(soak(t, 0))
	faults := 0
	for faults == 0 || time.Now().Before(end) {
		w.waitAcked(30, time.Minute)
		l := c.leader()
		l.signal(syscall.SIGSTOP)
		faults++
		eventually(t, 30*time.Second, func() error {
			for _, o := range c.others(l) {
				if st, err := o.status(); err == nil && st.GetState() == "Leader" {
					return nil
				}
			}
			return errorf("no other node leads while %s is paused", l.member)
		})
		w.waitAcked(30, time.Minute)
		l.signal(syscall.SIGCONT)
		eventually(t, 30*time.Second, func() error {
			st, err := l.status()
			if err != nil {
				return err
			}
			if st.GetState() == "Leader" {
				return errorf("%s still leads after the others elected a leader", l.member)
			}
			return nil
		})
	}
	w.waitAcked(30, time.Minute)
	st := w.check()
	faultReport(t, "leader SIGSTOP, SIGCONT", 3, faults, st, began)
}
