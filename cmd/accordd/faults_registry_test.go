package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/accordfed/accord/node/audit"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
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
// Scenarios run -parallel at a time (their processes mostly wait on disks
// and timers).
func TestRegistryProcessFaults(t *testing.T) {
	bin := buildAccordd(t)
	for _, s := range []struct {
		name string
		run  func(t *testing.T)
	}{
		{"leader_sigkill", func(t *testing.T) { testLeaderKill(t, bin, three, 0) }},
		{"five_nodes_leader_and_follower_sigkill", func(t *testing.T) { testLeaderKill(t, bin, []string{"UA", "PL", "DE", "LT", "NL"}, 1) }},
		{"follower_sigkill_snapshot_catchup", func(t *testing.T) { testFollowerKill(t, bin) }},
		{"cluster_sigkill", func(t *testing.T) { testClusterKill(t, bin) }},
		{"leader_sigstop", func(t *testing.T) { testLeaderPause(t, bin) }},
		{"disk_full", func(t *testing.T) { testDiskFull(t, bin) }},
		{"corrupt_store", func(t *testing.T) { testCorruptStore(t, bin) }},
		{"kill_during_snapshot", func(t *testing.T) { testKillDuringSnapshot(t, bin) }},
		{"kill_during_snapshot_restore", func(t *testing.T) { testKillDuringRestore(t, bin) }},
		{"kill_during_backup_restore", func(t *testing.T) { testKillDuringBackupRestore(t, bin) }},
	} {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			s.run(t)
		})
	}
}

var three = []string{"UA", "PL", "DE"}

// testLeaderKill: the leader, and extra followers with it (a minority),
// are killed (SIGKILL) under load; the others elect a leader and go on, and
// the killed nodes restart and catch up; in a loop while soaking.
func testLeaderKill(t *testing.T, bin string, members []string, extra int) {
	began := time.Now()
	c := startCluster(t, bin, clusterOptions{snapshotThreshold: 256, trailingLogs: 128}, members...)
	w := newWorkload(t, c, 2, 256)
	w.run(2, 1)
	end := time.Now().Add(soak(t, 0))
	faults := 0
	for faults == 0 || time.Now().Before(end) {
		w.waitAcked(30, time.Minute)
		l := c.leader()
		victims := append([]*procNode{l}, c.others(l)[:extra]...)
		for _, v := range victims {
			v.kill()
			faults++
		}
		w.waitAcked(30, time.Minute) // a new leader serves the others' writes
		for _, v := range victims {
			v.restart()
		}
	}
	w.waitAcked(30, time.Minute)
	st := w.check()
	name := "leader SIGKILL"
	if extra > 0 {
		name = "leader and a follower SIGKILL together"
	}
	faultReport(t, name, len(members), faults, st, began)
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
		snaps := map[*procNode]int{}
		for _, o := range c.others(f) {
			snaps[o] = o.current().log.count("snapshot complete up to")
		}
		f.kill()
		faults++
		w.waitAcked(more, 10*time.Minute)
		// ... and once every node that may lead has compacted past the
		// killed follower's log: two snapshots since the kill (the first
		// may have begun before), each keeping 32 entries. On a fast
		// machine the writes can all come within one snapshot interval.
		for o, before := range snaps {
			eventually(t, time.Minute, func() error {
				if n := o.current().log.count("snapshot complete up to"); n < before+2 {
					return errorf("%s: %d snapshots since the follower was killed, want 2", o.member, n-before)
				}
				return nil
			})
		}
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
		// Another node's election shows in its log (asking for the status
		// of the group waits seconds for the paused node).
		won := map[*procNode]int{}
		for _, o := range c.others(l) {
			won[o] = o.current().log.count("entering leader state")
		}
		l.signal(syscall.SIGSTOP)
		faults++
		eventually(t, 30*time.Second, func() error {
			for _, o := range c.others(l) {
				if o.current().log.count("entering leader state") > won[o] {
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
// (the data of its log entries changed, a page of raft.db overwritten, a
// snapshot's bytes changed); it refuses to start with a clear error; once its registry
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
		{"the data of its log entries changed (bbolt does not notice)", func(t *testing.T, dir string) {
			path := filepath.Join(dir, "raft.db")
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// Writer 0's titles and request ids ("w0-<n>"), in a
			// version 2 entry's JSON or a version 3 entry's typed
			// payload alike.
			changed := bytes.ReplaceAll(b, []byte(`w0-`), []byte(`x0-`))
			if bytes.Equal(b, changed) {
				t.Fatal("no log entry to change")
			}
			if err := os.WriteFile(path, changed, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"a page of raft.db's log overwritten", func(t *testing.T, dir string) {
			overwritePage(t, filepath.Join(dir, "raft.db"), "logs")
		}},
		{"its newest snapshot's bytes changed", func(t *testing.T, dir string) {
			flipBytes(t, filepath.Join(newestSnapshot(t, filepath.Join(dir, "snapshots")), "state.bin"), func(n int) (int, int) { return n / 2, n/2 + 16 })
		}},
	}
	end := time.Now().Add(soak(t, 0))
	faults := 0
	for i := 0; i < len(damages) || time.Now().Before(end); i++ {
		d := damages[i%len(damages)]
		if i == 0 {
			w.waitAcked(120, time.Minute) // beyond a snapshot and the log kept after it
		} else {
			w.waitAcked(30, time.Minute)
		}
		f := c.others(c.leader())[0]
		// Damage comes to a follower that has caught up (it may have
		// rejoined a moment ago) and logged writes since.
		c.waitCaughtUp(f)
		w.waitAcked(10, time.Minute)
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
		w.waitAcked(30, time.Minute)
		// An empty follower catches up by snapshot only from a leader whose
		// log no longer starts at the beginning: on a fast machine the
		// writes above can all come before the first snapshot interval, and
		// the follower then rightly catches up by replication. Wait until
		// every node that may lead has compacted its log.
		for _, o := range c.others(f) {
			eventually(t, time.Minute, func() error {
				if !o.everLogged("compacting logs", "Installed remote snapshot") {
					return errorf("%s has not compacted its registry log yet", o.member)
				}
				return nil
			})
		}
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
	w.waitAcked(20, time.Minute)
	st := w.check()
	faultReport(t, "damaged registry files on a follower (refused, then rejoins by snapshot)", 3, faults, st, began)
}

// overwritePage overwrites the first bytes of the page that holds a bucket
// of a bbolt file that no process has open (a page in use, wherever bbolt
// placed it).
func overwritePage(t *testing.T, path, bucket string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var root, pageSize int64
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return fmt.Errorf("no bucket %s", bucket)
		}
		root, pageSize = int64(b.Root()), int64(db.Info().PageSize)
		if root == 0 {
			// A small bucket lives inline in its parent's page: the
			// top-level root page.
			root = int64(tx.Cursor().Bucket().Root())
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0x5a}, 64), root*pageSize); err != nil {
		t.Fatal(err)
	}
}

// newestSnapshot returns the folder of the newest finished snapshot in
// dir (named term-index-milliseconds, as Raft orders them).
func newestSnapshot(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var best []int64
	newest := ""
	for _, e := range ents {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		var key []int64
		for _, f := range strings.Split(e.Name(), "-") {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				t.Fatalf("snapshot %s: %v", e.Name(), err)
			}
			key = append(key, n)
		}
		if best == nil || slices.Compare(key, best) > 0 {
			best, newest = key, filepath.Join(dir, e.Name())
		}
	}
	if newest == "" {
		t.Fatal("no snapshot to damage")
	}
	return newest
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

// testKillDuringSnapshot: nodes are killed the moment they start writing a
// snapshot (large entries make it take a while); each restarts, drops the
// unfinished snapshot and catches up.
func testKillDuringSnapshot(t *testing.T, bin string) {
	began := time.Now()
	c := startCluster(t, bin, clusterOptions{snapshotThreshold: 64, trailingLogs: 32}, three...)
	w := newWorkload(t, c, 2, 8<<10)
	w.run(2, 1)
	end := time.Now().Add(soak(t, 0))
	faults, landed := 0, 0
	for i := 0; landed == 0 || time.Now().Before(end); i++ {
		if landed == 0 && faults == 10 {
			t.Fatalf("none of %d kills came while a snapshot was being written", faults)
		}
		n := c.nodes[i%len(c.nodes)]
		p := n.current()
		n.waitKilled(p, killOn(p, "starting snapshot up to"), "snapshot")
		faults++
		snaps := filepath.Join(n.dataDir, "registry", "snapshots")
		unfinished, _ := filepath.Glob(filepath.Join(snaps, "*.tmp"))
		n.restart()
		if len(unfinished) > 0 {
			landed++
			if left, _ := filepath.Glob(filepath.Join(snaps, "*.tmp")); len(left) > 0 {
				t.Errorf("%s: unfinished snapshots left after the restart: %v", n.member, left)
			}
			if !n.current().log.has("removed an unfinished snapshot left by a crash") {
				t.Errorf("%s: the restart does not say it removed the unfinished snapshot", n.member)
			}
		}
		w.waitAcked(20, time.Minute)
	}
	w.waitAcked(20, time.Minute)
	st := w.check()
	t.Logf("%d of %d kills came while a snapshot was being written", landed, faults)
	faultReport(t, "SIGKILL while writing a snapshot", 3, faults, st, began)
}

// testKillDuringRestore: a follower that lags beyond the leader's log is
// killed while it restores the leader's snapshot into its state machine,
// then again while it restores its own snapshot as it starts; each time
// it comes back and catches up.
func testKillDuringRestore(t *testing.T, bin string) {
	began := time.Now()
	c := startCluster(t, bin, clusterOptions{snapshotThreshold: 64, trailingLogs: 32}, three...)
	w := newWorkload(t, c, 2, 8<<10)
	w.run(2, 1)
	end := time.Now().Add(soak(t, 0))
	faults, landedInstall, landedStart := 0, 0, 0
	for cycle := 0; landedInstall == 0 || landedStart == 0 || time.Now().Before(end); cycle++ {
		if cycle == 5 && (landedInstall == 0 || landedStart == 0) {
			t.Fatalf("in %d cycles, %d kills came during the install of a snapshot and %d during a restore at start", cycle, landedInstall, landedStart)
		}
		w.waitAcked(20, time.Minute)
		leader := c.leader()
		f := c.others(leader)[0]
		snaps := leader.current().log.count("snapshot complete up to")
		f.kill()
		faults++
		w.waitAcked(150, time.Minute) // beyond the log the leader keeps
		// ... once the leader has compacted it: two snapshots after the
		// kill (the first may have begun before), each keeping 32 entries.
		eventually(t, time.Minute, func() error {
			if n := leader.current().log.count("snapshot complete up to"); n < snaps+2 {
				return fmt.Errorf("%s: %d snapshots since the follower was killed, want 2", leader.member, n-snaps)
			}
			return nil
		})

		// Killed once the leader's snapshot is on its disk, while its state
		// machine restores from it.
		p := f.start()
		f.waitKilled(p, killOn(p, "copied to local snapshot"), "snapshot from the leader")
		faults++
		if !p.log.has("Installed remote snapshot") {
			landedInstall++
		}
		// Killed as it restores that snapshot when it starts again.
		p = f.start()
		f.waitKilled(p, killOn(p, "starting restore from snapshot"), "restore at start")
		faults++
		if !p.log.has("restored from snapshot") {
			landedStart++
		}
		f.restart()
	}
	w.waitAcked(20, time.Minute)
	st := w.check()
	t.Logf("kills during the install of a snapshot: %d; during a restore at start: %d", landedInstall, landedStart)
	faultReport(t, "SIGKILL while restoring a snapshot (from the leader, and at start)", 3, faults, st, began)
}

// testKillDuringBackupRestore: accordd restore, restoring a node's backup
// over its data, is killed partway; run again it completes, keeps every
// file it replaced (the node's original store among them), and the node
// starts with the backup's cases and catches up with the registry.
func testKillDuringBackupRestore(t *testing.T, bin string) {
	began := time.Now()
	c := startCluster(t, bin, clusterOptions{snapshotThreshold: 256, trailingLogs: 128}, three...)
	w := newWorkload(t, c, 2, 256)
	w.run(2, 1)
	ua := c.nodes[0]
	storePath := filepath.Join(ua.dataDir, "store.db")
	archive := filepath.Join(t.TempDir(), "ua.tar")
	end := time.Now().Add(soak(t, 0))
	faults, have := 0, 0 // have: the cases the node holds, ids 0 to have-1
	for cycle := 0; cycle == 0 || time.Now().Before(end); cycle++ {
		// Cases, a backup, more cases (that the restore drops), and a
		// stopped node.
		cases := caseClient(t, ua.locl, c.fed.User("UA", "analyst"))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		lines := crashLines(have + 250)
		if _, err := importAll(ctx, cases, lines[have:have+200], nil); err != nil {
			t.Fatal(err)
		}
		have += 200
		writeBackup(t, ua, archive)
		if _, err := importAll(ctx, cases, lines[have:], nil); err != nil {
			t.Fatal(err)
		}
		cancel()
		ua.stop()
		faults++
		// The node's audit log before the restore: the restore keeps all
		// of it (it is newer than the backup's).
		before, err := audit.Verify(filepath.Join(ua.dataDir, audit.FileName))
		if err != nil {
			t.Fatal(err)
		}

		// Kill the restore partway: once its staging folder appears (it is
		// writing), and a little later at each try, until a kill comes
		// before it finished.
		restore := []string{"restore", "--from", archive, "--force", "--identity", c.backupKey}
		for try := 0; ; try++ {
			if try == 10 {
				t.Fatal("accordd restore finished every time before it was killed")
			}
			p := ua.startArgs(restore...)
			after := time.Duration(try+cycle%4) * 2 * time.Millisecond
			tick := time.NewTicker(time.Millisecond)
			var seen time.Time
		poll:
			for {
				select {
				case <-p.done:
					break poll
				case <-tick.C:
				}
				if seen.IsZero() {
					if stage, _ := filepath.Glob(filepath.Join(ua.dataDir, ".restore-*")); len(stage) > 0 {
						seen = time.Now()
					}
				}
				if !seen.IsZero() && time.Since(seen) >= after {
					_ = p.cmd.Process.Signal(syscall.SIGKILL)
					<-p.done
					break
				}
			}
			tick.Stop()
			ua.forget(p)
			faults++
			if p.err != nil {
				break // killed while it wrote
			}
		}
		ua.startArgs(restore...)
		out, err := ua.waitExit(time.Minute)
		if err != nil || !strings.Contains(out, "restored the backup") {
			t.Fatalf("accordd restore after the killed one: %v\n%s", err, out)
		}
		if stage, _ := filepath.Glob(filepath.Join(ua.dataDir, ".restore-*")); len(stage) != 0 {
			t.Errorf("staging folders left: %v", stage)
		}
		// The live audit log holds every entry of the node's before the
		// restore, its chain intact, and records the restore (once per run
		// that got that far: the killed ones may have too).
		after, err := audit.Verify(filepath.Join(ua.dataDir, audit.FileName))
		if err != nil {
			t.Fatalf("the audit log after the restore: %v", err)
		}
		restores, keptHead := 0, false
		if err := audit.Scan(filepath.Join(ua.dataDir, audit.FileName), audit.Filter{}, func(e audit.Entry) error {
			keptHead = keptHead || (e.Seq == before.LastSeq && e.Hash == before.Head)
			if e.Seq > before.LastSeq && e.Kind == audit.KindRestored && e.What.Reason == audit.RestoreHistoryComplete {
				restores++
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if (!keptHead && before.LastSeq != 0) || restores == 0 || after.LastSeq <= before.LastSeq {
			t.Errorf("audit log: the node's entries 1-%d kept: %v; restore entries after them: %d (log ends at %d)", before.LastSeq, keptHead, restores, after.LastSeq)
		}
		// The node's store before the restore (with the cases imported
		// after the backup) is kept among the replaced files.
		kept, _ := filepath.Glob(storePath + ".replaced*")
		found := false
		for _, k := range kept {
			found = found || storeCases(t, k) == have+50
		}
		if !found {
			t.Errorf("the node's store from before the restore is not among the replaced files %v", kept)
		}

		ua.restart()
		if got := len(exportAll(t, caseClient(t, ua.locl, c.fed.User("UA", "analyst")))); got != have {
			t.Errorf("after the restore the node holds %d cases, want the backup's %d", got, have)
		}
		w.waitAcked(20, time.Minute)
	}
	st := w.check()
	faultReport(t, "SIGKILL of accordd restore, run again", 3, faults, st, began)
}

// writeBackup saves the node's backup (as its admin) to path.
func writeBackup(t *testing.T, n *procNode, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := n.admin.Backup(ctx, &accordv1.BackupRequest{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for {
		r, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(r.GetData()); err != nil {
			t.Fatal(err)
		}
	}
}

// storeCases opens a (copy of a) node's store and counts its cases.
func storeCases(t *testing.T, path string) int {
	t.Helper()
	cp := filepath.Join(t.TempDir(), "store.db")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(cp, "UA", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stats, err := st.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return stats.Cases
}
