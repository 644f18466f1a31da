package main

// The process-level fault harness: federations of real accordd processes,
// each a founding registry server, that tests kill (SIGKILL), pause
// (SIGSTOP), restart, starve of disk and corrupt. The workload and its
// checks are in faults_workload_test.go, the scenarios in
// faults_registry_test.go.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/node/backup"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/daemon/daemontest"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// soak returns how long a scenario runs: short in CI, or as long as the Go
// duration in ACCORD_SOAK says.
func soak(t *testing.T, short time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv("ACCORD_SOAK")
	if v == "" {
		return short
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("ACCORD_SOAK=%q: want a positive Go duration such as 10m", v)
	}
	return d
}

// soaking reports whether the scenarios run in soak mode.
func soaking() bool { return os.Getenv("ACCORD_SOAK") != "" }

// eventually polls f every 100ms (each poll is a few RPCs to real
// processes) until it returns nil, and fails the test with f's last error
// when timeout passes first.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond) // the poll's interval, not a wait for a condition
	}
}

// clusterOptions shape a federation of accordd processes.
type clusterOptions struct {
	// snapshotThreshold and trailingLogs of every node: small, so that a
	// short run snapshots, compacts its log and catches lagging nodes up by
	// snapshot.
	snapshotThreshold, trailingLogs uint64
	// dataDir, when set, gives the data folder of a member's node (a small
	// file system, for a full disk); default a temporary folder.
	dataDir func(member string) string
}

// procCluster is a federation of accordd processes on loopback, one node
// per member, every node a founding registry server.
type procCluster struct {
	t       *testing.T
	bin     string
	fed     *pkitest.Federation
	opts    clusterOptions
	servers []config.RegistryServerConfig
	nodes   []*procNode
	// backupKey is the identity file that opens the nodes' backups (they
	// are encrypted to its recipient, backupRecipient).
	backupKey, backupRecipient string
}

// procNode is one member's node: its configuration and data survive its
// processes.
type procNode struct {
	c                  *procCluster
	member, uri        string
	cfgPath, dataDir   string
	listen, raft, locl string

	mu   sync.Mutex
	proc *proc   // the running process, nil when there is none
	runs []*proc // every process of the node, for the logs of a failure

	coord accordv1.CoordinationServiceClient // as the member's analyst
	admin accordv1.NodeAdminServiceClient    // as the member's admin
}

// proc is one accordd process.
type proc struct {
	cmd  *exec.Cmd
	log  *procLog
	done chan struct{} // closed once the process exited and its log is read
	err  error         // how it exited, set before done closes
}

// procLog holds the log of a process (its last maxLogKept bytes, and how
// many lines had each message) and calls hooks on each line as it comes (a
// test kills a process the moment a line shows it is in a given state).
type procLog struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	counts map[string]int
	hooks  []func(line []byte)
}

// maxLogKept bounds the log text a process keeps in memory (soak runs log
// for hours).
const maxLogKept = 8 << 20

func (l *procLog) consume(r io.Reader) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 4<<20)
	for s.Scan() {
		line := s.Bytes()
		l.mu.Lock()
		if l.counts == nil {
			l.counts = map[string]int{}
		}
		l.counts[lineMsg(line)]++
		l.buf.Write(line)
		l.buf.WriteByte('\n')
		if l.buf.Len() > maxLogKept {
			tail := l.buf.Bytes()[l.buf.Len()-maxLogKept/2:]
			if i := bytes.IndexByte(tail, '\n'); i >= 0 {
				tail = tail[i+1:]
			}
			var kept bytes.Buffer
			kept.Write(tail)
			l.buf = kept
		}
		hooks := l.hooks
		l.mu.Unlock()
		for _, h := range hooks {
			h(line)
		}
	}
}

// lineMsg returns the message of a JSON log line ("" for other lines).
func lineMsg(line []byte) string {
	key := []byte(`"msg":"`)
	i := bytes.Index(line, key)
	if i < 0 {
		return ""
	}
	rest := line[i+len(key):]
	for j := 0; j < len(rest); j++ {
		switch rest[j] {
		case '\\':
			j++
		case '"':
			return string(rest[:j])
		}
	}
	return ""
}

// onLine adds a hook called with every line from now on.
func (l *procLog) onLine(h func(line []byte)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hooks = append(l.hooks, h)
}

// count returns how many lines had the message msg.
func (l *procLog) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[msg]
}

func (l *procLog) has(msg string) bool { return l.count(msg) > 0 }

func (l *procLog) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// tail returns the last n lines.
func (l *procLog) tail(n int) string {
	lines := strings.Split(strings.TrimRight(l.text(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// lineHas reports whether a log line has the message msg.
func lineHas(line []byte, msg string) bool { return lineMsg(line) == msg }

// startCluster starts one accordd process per member, each a founding
// registry server, and waits until every node sees the registry founded
// with a leader. Founders must know each other's addresses before they
// listen, so a port taken by another process in the meantime makes the
// federation start again on other ports.
func startCluster(t *testing.T, bin string, opts clusterOptions, members ...string) *procCluster {
	t.Helper()
	fed := pkitest.NewFederation(t, "accord.test", members...)
	c := &procCluster{t: t, bin: bin, fed: fed, opts: opts}
	c.backupKey = filepath.Join(t.TempDir(), "backup-key.txt")
	rcpt, err := backup.WriteIdentity(c.backupKey, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c.backupRecipient = rcpt
	t.Cleanup(func() {
		if t.Failed() && os.Getenv("ACCORD_FAULT_STACKS") != "" {
			// Every process writes its goroutines' stacks and exits.
			for _, n := range c.nodes {
				if p := n.current(); p != nil {
					_ = p.cmd.Process.Signal(syscall.SIGQUIT)
					select {
					case <-p.done:
					case <-time.After(5 * time.Second):
					}
				}
			}
		}
		for _, n := range c.nodes {
			n.kill()
		}
		if t.Failed() || os.Getenv("ACCORD_FAULT_LOGS") != "" {
			c.dumpLogs()
		}
	})
	for attempt := 1; ; attempt++ {
		err := c.tryStart(members)
		if err == nil {
			break
		}
		for _, n := range c.nodes {
			n.kill()
		}
		if !strings.Contains(err.Error(), "address already in use") || attempt == 5 {
			t.Fatal(err)
		}
		t.Logf("starting the federation again on other ports: %v", err)
	}
	for _, n := range c.nodes {
		c.waitFounded(n)
	}
	return c
}

func (c *procCluster) tryStart(members []string) error {
	t := c.t
	addrs := daemontest.FreeAddrs(t, 3*len(members))
	c.servers, c.nodes = nil, nil
	for i, m := range members {
		c.servers = append(c.servers, config.RegistryServerConfig{
			Node:        c.fed.NodeURI(m, daemontest.NodeName(m)).String(),
			RaftAddress: addrs[3*i], Address: addrs[3*i+1], MemberName: m + " Prosecutor General's Office",
		})
	}
	for i, m := range members {
		dir := filepath.Join(t.TempDir(), "data")
		if c.opts.dataDir != nil {
			dir = c.opts.dataDir(m)
			if err := wipeDir(dir); err != nil {
				t.Fatal(err)
			}
		}
		n := &procNode{c: c, member: m, uri: c.servers[i].Node, dataDir: dir,
			raft: addrs[3*i], listen: addrs[3*i+1], locl: addrs[3*i+2]}
		n.writeConfig(c.fed.Node(m, daemontest.NodeName(m)))
		n.coord = accordv1.NewCoordinationServiceClient(n.dial(c.fed.User(m, "analyst")))
		n.admin = accordv1.NewNodeAdminServiceClient(n.dial(c.fed.User(m, "admin")))
		c.nodes = append(c.nodes, n)
	}
	for _, n := range c.nodes {
		n.start()
	}
	for _, n := range c.nodes {
		if err := n.waitStarted(30 * time.Second); err != nil {
			return err
		}
	}
	return nil
}

// wipeDir empties a folder (it stays: it may be a mount point).
func wipeDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return os.MkdirAll(dir, 0o700)
		}
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func (n *procNode) writeConfig(tlsCfg mtls.Config) {
	t, c := n.c.t, n.c
	var servers strings.Builder
	for _, s := range c.servers {
		fmt.Fprintf(&servers, "    - {node: %q, raft_address: %q, address: %q, member_name: %q}\n", s.Node, s.RaftAddress, s.Address, s.MemberName)
	}
	body := fmt.Sprintf(`listen: %s
metrics_listen: ""
data_dir: %s
shutdown_timeout: 5s
local_api: {listen: %s, admins: [admin]}
backup: {recipients: [%s]}
log: {format: json, level: info}
tls: {cert_file: %s, key_file: %s, bundle_file: %s, crl_dir: %s}
registry:
  server: true
  raft_listen: %s
  bootstrap: true
  heartbeat_timeout: 500ms
  election_timeout: 500ms
  leader_lease_timeout: 250ms
  snapshot_threshold: %d
  trailing_logs: %d
  snapshot_interval: 1s
  servers:
%s`, n.listen, n.dataDir, n.locl, c.backupRecipient, tlsCfg.CertFile, tlsCfg.KeyFile, tlsCfg.BundleFile, tlsCfg.CRLDir,
		n.raft, c.opts.snapshotThreshold, c.opts.trailingLogs, servers.String())
	n.cfgPath = filepath.Join(t.TempDir(), "node.yaml")
	if err := os.WriteFile(n.cfgPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// dial connects to the node's local API as a user; the connection
// survives the node's restarts (the address stays) and reconnects quickly.
func (n *procNode) dial(user mtls.Config) *grpc.ClientConn {
	t := n.c.t
	src, err := mtls.NewSource(user, mtls.Hooks{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(n.locl, grpc.WithTransportCredentials(src.ClientCredentials(mtls.ExpectMember(n.member))),
		// A strategy entry's whole history comes in one message.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20)),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 500 * time.Millisecond},
			MinConnectTimeout: 2 * time.Second,
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// start starts a process of the node (there must be none running).
func (n *procNode) start() *proc {
	return n.startArgs()
}

// startArgs starts accordd with the node's configuration and more
// arguments (a subcommand such as restore).
func (n *procNode) startArgs(args ...string) *proc {
	t := n.c.t
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc != nil {
		t.Fatalf("%s: a process is running already", n.member)
	}
	var cmd *exec.Cmd
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd = exec.Command(n.c.bin, append([]string{args[0], "--config", n.cfgPath}, args[1:]...)...)
	} else {
		cmd = exec.Command(n.c.bin, append([]string{"--config", n.cfgPath}, args...)...)
	}
	// The test's own ACCORD_* variables (ACCORD_SOAK) are not the node's
	// configuration.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, config.EnvPrefix) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	p := &proc{cmd: cmd, log: &procLog{}, done: make(chan struct{})}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr // one stream: logs, and a subcommand's output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.log.consume(stderr)
		p.err = cmd.Wait()
		close(p.done)
	}()
	n.proc = p
	n.runs = append(n.runs, p)
	return p
}

// current returns the running process, or nil.
func (n *procNode) current() *proc {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc
}

// waitStarted waits until the running process has logged that it serves,
// and returns an error (with its log) if it exits first.
func (n *procNode) waitStarted(timeout time.Duration) error {
	p := n.current()
	if p == nil {
		return fmt.Errorf("%s: not running", n.member)
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if p.log.has("node started") {
			return nil
		}
		select {
		case <-p.done:
			n.forget(p)
			return fmt.Errorf("%s exited before serving (%w):\n%s", n.member, p.err, p.log.tail(30))
		case <-deadline.C:
			return fmt.Errorf("%s did not start within %s:\n%s", n.member, timeout, p.log.tail(30))
		case <-tick.C:
		}
	}
}

// restart starts the node again and waits until it serves.
func (n *procNode) restart() {
	n.c.t.Helper()
	n.start()
	if err := n.waitStarted(30 * time.Second); err != nil {
		n.c.t.Fatal(err)
	}
}

// forget clears the running process once it has exited.
func (n *procNode) forget(p *proc) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == p {
		n.proc = nil
	}
}

// signal sends sig to the running process.
func (n *procNode) signal(sig syscall.Signal) {
	if p := n.current(); p != nil {
		_ = p.cmd.Process.Signal(sig)
	}
}

// kill kills the running process (SIGKILL, also when it is stopped) and
// waits until it is gone.
func (n *procNode) kill() {
	p := n.current()
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	n.forget(p)
}

// stop stops the running process gracefully (SIGTERM) and waits until it
// has exited.
func (n *procNode) stop() {
	t := n.c.t
	t.Helper()
	n.signal(syscall.SIGTERM)
	if _, err := n.waitExit(30 * time.Second); err != nil {
		t.Fatalf("%s: stopping: %v", n.member, err)
	}
}

// killOn kills p (SIGKILL) the moment it logs one of msgs, and returns a
// channel closed once it has been killed.
func killOn(p *proc, msgs ...string) <-chan struct{} {
	killed := make(chan struct{})
	var once sync.Once
	p.log.onLine(func(line []byte) {
		for _, m := range msgs {
			if lineHas(line, m) {
				once.Do(func() {
					_ = p.cmd.Process.Signal(syscall.SIGKILL)
					close(killed)
				})
			}
		}
	})
	return killed
}

// waitKilled waits until killOn has killed the node's process and the
// process is gone.
func (n *procNode) waitKilled(p *proc, killed <-chan struct{}, what string) {
	t := n.c.t
	t.Helper()
	select {
	case <-killed:
	case <-p.done:
		t.Fatalf("%s exited before %s:\n%s", n.member, what, p.log.tail(20))
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s: no %s within 2 minutes:\n%s", n.member, what, p.log.tail(20))
	}
	<-p.done
	n.forget(p)
}

// waitExit waits until the running process exits by itself and returns
// its log and how it exited.
func (n *procNode) waitExit(timeout time.Duration) (string, error) {
	t := n.c.t
	t.Helper()
	p := n.current()
	if p == nil {
		t.Fatalf("%s: not running", n.member)
	}
	select {
	case <-p.done:
		n.forget(p)
		return p.log.text(), p.err
	case <-time.After(timeout):
		t.Fatalf("%s still runs after %s:\n%s", n.member, timeout, p.log.tail(30))
	}
	return "", nil
}

// status asks the node for its view of the registry group. The node
// gives every other server up to 3 seconds to answer (a paused one never
// does), so the call may take that long.
func (n *procNode) status() (*accordv1.RegistryStatusResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	defer cancel()
	return n.coord.RegistryStatus(ctx, &accordv1.RegistryStatusRequest{})
}

// waitFounded waits until the node sees the registry founded and a
// leader.
func (c *procCluster) waitFounded(n *procNode) {
	c.t.Helper()
	eventually(c.t, 30*time.Second, func() error {
		st, err := n.status()
		if err != nil {
			return err
		}
		if !st.GetBootstrapped() || st.GetLeaderId() == "" {
			return fmt.Errorf("%s: founded %v, leader %q", n.member, st.GetBootstrapped(), st.GetLeaderId())
		}
		return nil
	})
}

// leader waits until a running node leads (by its own account) and
// returns it.
func (c *procCluster) leader() *procNode {
	c.t.Helper()
	var leader *procNode
	eventually(c.t, 30*time.Second, func() error {
		for _, n := range c.nodes {
			if n.current() == nil {
				continue
			}
			if st, err := n.status(); err == nil && st.GetState() == "Leader" {
				leader = n
				return nil
			}
		}
		return errors.New("no node leads")
	})
	return leader
}

// waitCaughtUp waits until n has applied what the leader had committed.
func (c *procCluster) waitCaughtUp(n *procNode) {
	c.t.Helper()
	st, err := c.leader().status()
	if err != nil {
		c.t.Fatal(err)
	}
	eventually(c.t, time.Minute, func() error {
		got, err := n.status()
		if err != nil {
			return err
		}
		if got.GetAppliedIndex() < st.GetCommitIndex() {
			return errorf("%s applied %d of %d", n.member, got.GetAppliedIndex(), st.GetCommitIndex())
		}
		return nil
	})
}

// everLogged reports whether any process of the node, running or ended,
// logged one of msgs.
func (n *procNode) everLogged(msgs ...string) bool {
	n.mu.Lock()
	runs := append([]*proc(nil), n.runs...)
	n.mu.Unlock()
	for _, p := range runs {
		for _, m := range msgs {
			if p.log.has(m) {
				return true
			}
		}
	}
	return false
}

// others returns the nodes other than n.
func (c *procCluster) others(n *procNode) []*procNode {
	var out []*procNode
	for _, o := range c.nodes {
		if o != n {
			out = append(out, o)
		}
	}
	return out
}

// dumpLogs keeps every process's log, for a failure: in files under
// $TMPDIR/accord-faults/<test>/, whose last lines also go into the test's
// log.
func (c *procCluster) dumpLogs() {
	dir := filepath.Join(os.TempDir(), "accord-faults", strings.ReplaceAll(c.t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		c.t.Log(err)
	}
	for _, n := range c.nodes {
		n.mu.Lock()
		runs := append([]*proc(nil), n.runs...)
		n.mu.Unlock()
		for i, p := range runs {
			path := filepath.Join(dir, fmt.Sprintf("%s-%d.log", n.member, i+1))
			if err := os.WriteFile(path, []byte(p.log.text()), 0o600); err != nil {
				c.t.Log(err)
			}
			c.t.Logf("---- %s, process %d of %d (whole log in %s), last lines:\n%s", n.member, i+1, len(runs), path, p.log.tail(15))
		}
	}
}

// errorf is fmt.Errorf, for the conditions that eventually polls.
func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
