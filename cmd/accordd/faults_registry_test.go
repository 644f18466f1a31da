package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
	t.Run("disk_full", func(t *testing.T) { testDiskFull(t, bin) })
	t.Run("corrupt_store", func(t *testing.T) { testCorruptStore(t, bin) })
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

// mountTmpfs mounts a tmpfs of size bytes at a new folder and returns it;
// it skips the test when that is not possible (not root).
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a full disk needs a small file system of its own: run as root (mount -t tmpfs), e.g. in the CI container")
	}
	dir := filepath.Join(t.TempDir(), "fs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+itoa(size), "accord-test", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs for a full disk: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// fillDisk writes a file into dir until the file system is full, and
// returns its path (removing it frees the space).
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for len(chunk) > 0 {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			chunk = chunk[:len(chunk)/2]
		}
	}
	return path
}

// testDiskFull: the leader's disk fills up under load (its data folder is
// a small tmpfs). It can no longer append to its log; the others go on
// (writes through the full node too, forwarded), and once space is freed
// the node catches up. Nothing acknowledged is lost.
func testDiskFull(t *testing.T, bin string) {
	began := time.Now()
	dirs := map[string]string{}
	for _, m := range three {
		dirs[m] = mountTmpfs(t, 64<<20)
	}
	c := startCluster(t, bin, clusterOptions{snapshotThreshold: 64, trailingLogs: 32, dataDir: func(m string) string { return dirs[m] }}, three...)
	w := newWorkload(t, c, 2, 256)
	w.run(2, 1)
	end := time.Now().Add(soak(t, 0))
	faults := 0
	for faults == 0 || time.Now().Before(end) {
		w.waitAcked(30, time.Minute)
		l := c.leader()
		p := l.current()
		filler := fillDisk(t, l.dataDir)
		faults++
		full := time.Now()
		// The full node fails to write (and the others go on) for a while.
		eventually(t, time.Minute, func() error {
			if !p.log.has("failed to commit logs") && !p.log.has("failed to append to logs") {
				return errorf("%s has not failed to write its log yet", l.member)
			}
			return nil
		})
		w.waitAcked(60, time.Minute)
		eventually(t, time.Minute, func() error {
			if time.Since(full) < 3*time.Second {
				return errorf("the disk has been full for %s", time.Since(full))
			}
			return nil
		})
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		if l.current() == nil {
			t.Logf("%s exited on the full disk", l.member)
			l.restart()
		}
		w.waitAcked(30, time.Minute)
	}
	w.waitAcked(30, time.Minute)
	st := w.check()
	faultReport(t, "disk full on the leader", 3, faults, st, began)
}

// testCorruptStore: a follower's registry data is damaged while it is down
// (garbage in the middle of raft.db, raft.db truncated, a snapshot's bytes
// changed); it refuses to start with a clear error; once its registry
// folder is moved aside, as the error says, it rejoins by the leader's
// snapshot.
func testCorruptStore(t *testing.T, bin string) {
	began := time.Now()
	c := startCluster(t, bin, clusterOptions{snapshotThreshold: 64, trailingLogs: 32}, three...)
	w := newWorkload(t, c, 2, 256)
	w.run(2, 1)
	damages := []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"garbage in the middle of raft.db", func(t *testing.T, dir string) {
			flipBytes(t, filepath.Join(dir, "raft.db"), func(n int) (int, int) { return n / 2, n/2 + 4096 })
		}},
		{"raft.db truncated", func(t *testing.T, dir string) {
			path := filepath.Join(dir, "raft.db")
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, fi.Size()/3); err != nil {
				t.Fatal(err)
			}
		}},
		{"a snapshot's bytes changed", func(t *testing.T, dir string) {
			snaps, _ := filepath.Glob(filepath.Join(dir, "snapshots", "*", "state.bin"))
			if len(snaps) == 0 {
				t.Fatal("no snapshot to damage")
			}
			flipBytes(t, snaps[len(snaps)-1], func(n int) (int, int) { return n / 2, n/2 + 16 })
		}},
	}
	end := time.Now().Add(soak(t, 0))
	faults := 0
	for i := 0; i < len(damages) || time.Now().Before(end); i++ {
		d := damages[i%len(damages)]
		w.waitAcked(120, time.Minute) // beyond a snapshot and the log kept after it
		f := c.others(c.leader())[0]
		f.kill()
		regDir := filepath.Join(f.dataDir, "registry")
		d.damage(t, regDir)
		faults++
		f.start()
		out, err := f.waitExit(30 * time.Second)
		if err == nil || strings.Contains(out, "node started") {
			t.Fatalf("%s: %s started on damaged data:\n%s", d.name, f.member, out)
		}
		if !strings.Contains(out, "registry data is damaged") || !strings.Contains(out, regDir+" aside") {
			t.Fatalf("%s: the error does not say the data is damaged and what to do:\n%s", d.name, out)
		}
		t.Logf("%s: refused: %s", d.name, lastLine(out))
		if err := os.Rename(regDir, regDir+".damaged"); err != nil {
			t.Fatal(err)
		}
		w.waitAcked(120, time.Minute)
		f.restart()
		p := f.current()
		eventually(t, time.Minute, func() error {
			if !p.log.has("Installed remote snapshot") {
				return errorf("%s has not installed the leader's snapshot", f.member)
			}
			return nil
		})
		if err := os.RemoveAll(regDir + ".damaged"); err != nil {
			t.Fatal(err)
		}
	}
	w.waitAcked(30, time.Minute)
	st := w.check()
	faultReport(t, "damaged registry files on a follower (refused, then rejoins by snapshot)", 3, faults, st, began)
}

// flipBytes changes the bytes [from, to) of a file, as at(size) gives them.
func flipBytes(t *testing.T, path string, at func(size int) (int, int)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	from, to := at(len(b))
	for i := from; i < to && i < len(b); i++ {
		b[i] ^= 0x5a
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
