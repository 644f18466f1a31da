package backup

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/node/audit"
	"github.com/accordfed/accord/node/store"
)

// ErrInvalid is wrapped when an archive is not a backup, is damaged, or
// does not fit the data folder it is restored into.
var ErrInvalid = errors.New("invalid backup")

// The files of a backup, as named in the archive and in the data folder.
const (
	StoreFile = "store.db"
	AuditFile = "audit.log"
	KeyFile   = "signing.key"
	// PersonKeysFile holds the node's person-token keys (federation/persons
	// KeyRing.Export); restored beside the store, the node takes them in
	// at its next start.
	PersonKeysFile = "person-token.keys"
	RegistryFile   = "registry-state.jsonl"
	manifestFile   = "MANIFEST.json"
)

// Manifest describes a backup.
type Manifest struct {
	Version int       `json:"version"`
	Member  string    `json:"member"`
	Node    string    `json:"node"`
	Time    time.Time `json:"time"`
	// Files maps each file of the archive to its size and SHA-256.
	Files map[string]FileInfo `json:"files"`
}

// FileInfo is one file's size and digest.
type FileInfo struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Source is what a backup reads. Each writer function writes one file's
// content; a nil function leaves the file out.
type Source struct {
	Member, Node string
	Store        func(io.Writer) error
	Audit        func(io.Writer) error
	Key          func(io.Writer) error
	PersonKeys   func(io.Writer) error
	Registry     func(io.Writer) error
	Now          func() time.Time
}

// Write writes the backup of src to w as a tar archive. Each file is
// spooled to tmpDir first (its size must be known before its tar header),
// then written with its digest recorded; the manifest comes last.
func Write(w io.Writer, src Source, tmpDir string) (Manifest, error) {
	if src.Now == nil {
		src.Now = time.Now
	}
	m := Manifest{Version: 1, Member: src.Member, Node: src.Node, Time: src.Now().UTC(), Files: map[string]FileInfo{}}
	tw := tar.NewWriter(w)
	for _, f := range []struct {
		name  string
		write func(io.Writer) error
	}{{StoreFile, src.Store}, {AuditFile, src.Audit}, {KeyFile, src.Key}, {PersonKeysFile, src.PersonKeys}, {RegistryFile, src.Registry}} {
		if f.write == nil {
			continue
		}
		info, err := addFile(tw, f.name, f.write, tmpDir)
		if err != nil {
			return Manifest{}, fmt.Errorf("backup %s: %w", f.name, err)
		}
		m.Files[f.name] = info
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: manifestFile, Mode: 0o600, Size: int64(len(data)), ModTime: m.Time}); err != nil {
		return Manifest{}, err
	}
	if _, err := tw.Write(data); err != nil {
		return Manifest{}, err
	}
	return m, tw.Close()
}

func addFile(tw *tar.Writer, name string, write func(io.Writer) error, tmpDir string) (FileInfo, error) {
	spool, err := os.CreateTemp(tmpDir, "backup-*")
	if err != nil {
		return FileInfo{}, err
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	h := sha256.New()
	if err := write(io.MultiWriter(spool, h)); err != nil {
		return FileInfo{}, err
	}
	size, err := spool.Seek(0, io.SeekCurrent)
	if err != nil {
		return FileInfo{}, err
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return FileInfo{}, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: size, ModTime: time.Now()}); err != nil {
		return FileInfo{}, err
	}
	if _, err := io.Copy(tw, spool); err != nil {
		return FileInfo{}, err
	}
	return FileInfo{Size: size, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// RestoreOptions say how [Restore] checks a backup and records its
// restore.
type RestoreOptions struct {
	// Member, when not empty, must be the backup's member.
	Member string
	// Node is the identity URI of the node restoring (of its certificate),
	// named in the audit entry that records the restore; empty means the
	// backup's node (Manifest.Node).
	Node string
	// Force allows restoring into a data folder that holds a store.
	Force bool
	// Identities decrypt an age-encrypted archive. An encrypted archive
	// without identities is refused ([ErrIdentityRequired]), and so is a
	// plain archive when identities are given.
	Identities []age.Identity
	// Logger logs what became of the audit history; nil discards.
	Logger *slog.Logger
}

// Restored is what [Restore] did.
type Restored struct {
	Manifest
	// Digest is the lower-case hex SHA-256 of the archive as read
	// (encrypted or not): the file an operator can check with sha256sum.
	Digest string
	// Encrypted says whether the archive was age-encrypted.
	Encrypted bool
	// Audit is the restore's entry in the live audit log: its Reason says
	// what became of the history (audit.RestoreHistoryComplete, ...).
	Audit audit.Entry
}

// Restore decrypts (when it is age-encrypted) and checks the archive read
// from r against its manifest, and writes its files into dataDir: the store
// and signing key in place, the registry snapshot under restored/. Nothing
// in dataDir is changed until the whole archive has been read, decrypted,
// authenticated and checked: a wrong key, a damaged or cut archive, a
// foreign member's backup change nothing.
//
// It refuses a data folder that already holds a store unless opts.Force is
// set; then the files it replaces are kept beside with the suffix .replaced
// (.replaced.1, .2, ... when taken: none is overwritten).
//
// The audit log is never cut or rewritten: when the node's own log in
// dataDir is intact and continues the backup's (the usual case: it is
// newer), it stays the live log; when the backup's continues it, the
// backup's becomes live; when the two are of different histories the
// node's stays live and the backup's is kept in restored/; when the node's
// is missing or damaged the backup's is put back (the damaged one kept as
// .replaced) and the history after the backup is recorded as missing. In
// every case the live log then gets an entry of kind audit.KindRestored
// naming the node, the backup's digest and its place in the chain, before
// the other files are put in place. A restore that is killed can be run
// again (it then records a second restore).
func Restore(r io.Reader, dataDir string, opts RestoreOptions) (Restored, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if _, err := os.Stat(filepath.Join(dataDir, StoreFile)); err == nil && !opts.Force {
		return Restored{}, fmt.Errorf("%w: %s already holds a store: restore into an empty data folder, or give --force to replace it", ErrInvalid, dataDir)
	}
	digest := sha256.New()
	plain, encrypted, err := open(io.TeeReader(r, digest), opts.Identities)
	if err != nil {
		return Restored{}, err
	}
	// A restore that was killed left its staging folder behind; the node is
	// stopped, so no restore runs but this one.
	stale, err := filepath.Glob(filepath.Join(dataDir, ".restore-*"))
	if err != nil {
		return Restored{}, err
	}
	for _, dir := range stale {
		if err := os.RemoveAll(dir); err != nil {
			return Restored{}, err
		}
	}
	stage, err := os.MkdirTemp(dataDir, ".restore-*")
	if err != nil {
		return Restored{}, err
	}
	defer os.RemoveAll(stage)
	m, err := unpack(plain, stage, opts.Member)
	if err != nil {
		return Restored{}, err
	}
	// Read to the end: age authenticates the last chunk there (a cut
	// archive fails here), and the digest covers the whole file.
	if _, err := io.Copy(io.Discard, plain); err != nil {
		return Restored{}, fmt.Errorf("%w: damaged after its last file: %w", ErrInvalid, err)
	}
	res := Restored{Manifest: m, Digest: hex.EncodeToString(digest.Sum(nil)), Encrypted: encrypted}
	// The restored store's feed is older than what peers pulled from it:
	// a new feed epoch makes them resync instead of resuming from cursors
	// past its head (they would skip the records published there next).
	if err := store.RenewFeedEpoch(filepath.Join(stage, StoreFile)); err != nil {
		return Restored{}, fmt.Errorf("%w: %s: %w", ErrInvalid, StoreFile, err)
	}
	node := opts.Node
	if node == "" {
		node = m.Node
	}
	plan, err := planAudit(filepath.Join(stage, AuditFile), filepath.Join(dataDir, audit.FileName), m.Files[AuditFile].SHA256 != "")
	if err != nil {
		return Restored{}, err
	}
	if plan.reason != audit.RestoreHistoryComplete {
		logger.Warn("restore: audit history", "reason", plan.reason, "backup_head_seq", plan.backupHead, "node_log", plan.why)
	}
	if err := os.MkdirAll(filepath.Join(dataDir, "restored"), 0o700); err != nil {
		return Restored{}, err
	}
	// Record the restore in the log that will be live, before any file is
	// put in place: no restore goes unrecorded.
	logDir := dataDir
	if plan.useBackup {
		logDir = stage
	}
	if res.Audit, err = recordRestore(logDir, node, plan, res.Digest, logger); err != nil {
		return Restored{}, err
	}
	for name := range m.Files {
		dst := filepath.Join(dataDir, name)
		switch {
		case name == RegistryFile:
			dst = filepath.Join(dataDir, "restored", name)
		case name == AuditFile && !plan.useBackup:
			if plan.reason != audit.RestoreHistoryDiverged {
				continue // the node's log holds all of it
			}
			dst = filepath.Join(dataDir, "restored", name)
		}
		if _, err := os.Stat(dst); err == nil {
			if err := os.Rename(dst, replacedName(dst)); err != nil {
				return Restored{}, err
			}
		}
		if err := os.Rename(filepath.Join(stage, name), dst); err != nil {
			return Restored{}, err
		}
	}
	if plan.useBackup && m.Files[AuditFile].SHA256 == "" {
		// A backup without an audit log: the new log made in the stage.
		dst := filepath.Join(dataDir, audit.FileName)
		if _, err := os.Stat(dst); err == nil {
			if err := os.Rename(dst, replacedName(dst)); err != nil {
				return Restored{}, err
			}
		}
		if err := os.Rename(filepath.Join(stage, audit.FileName), dst); err != nil {
			return Restored{}, err
		}
	}
	if d, err := os.Open(dataDir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return res, nil
}

// unpack reads the tar archive from r into stage and checks it against
// its manifest (every file's size and SHA-256, the member).
func unpack(r io.Reader, stage, member string) (Manifest, error) {
	got := map[string]FileInfo{}
	var manifest []byte
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Manifest{}, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		switch hdr.Name {
		case manifestFile:
			if manifest, err = io.ReadAll(io.LimitReader(tr, 1<<20)); err != nil {
				return Manifest{}, fmt.Errorf("%w: %s: %w", ErrInvalid, manifestFile, err)
			}
			continue
		case StoreFile, AuditFile, KeyFile, PersonKeysFile, RegistryFile:
		default:
			return Manifest{}, fmt.Errorf("%w: unexpected file %q in the archive", ErrInvalid, hdr.Name)
		}
		if _, dup := got[hdr.Name]; dup {
			return Manifest{}, fmt.Errorf("%w: %s is twice in the archive", ErrInvalid, hdr.Name)
		}
		f, err := os.OpenFile(filepath.Join(stage, hdr.Name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return Manifest{}, err
		}
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(f, h), tr)
		if err != nil {
			err = fmt.Errorf("%w: %s: %w", ErrInvalid, hdr.Name, err)
		} else {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return Manifest{}, err
		}
		got[hdr.Name] = FileInfo{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
	}
	if manifest == nil {
		return Manifest{}, fmt.Errorf("%w: no %s: not a backup of an Accord node", ErrInvalid, manifestFile)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(manifest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("%w: %s: %w", ErrInvalid, manifestFile, err)
	}
	if m.Version != 1 {
		return Manifest{}, fmt.Errorf("%w: %s: version %d is not supported", ErrInvalid, manifestFile, m.Version)
	}
	if member != "" && m.Member != member {
		return Manifest{}, fmt.Errorf("%w: the backup is of member %s, this node is of %s", ErrInvalid, m.Member, member)
	}
	if _, ok := m.Files[StoreFile]; !ok {
		return Manifest{}, fmt.Errorf("%w: the backup has no store", ErrInvalid)
	}
	for name, want := range m.Files {
		if g, ok := got[name]; !ok || g != want {
			return Manifest{}, fmt.Errorf("%w: %s: missing or damaged (want %d bytes, sha256 %s; got %d bytes, %s)", ErrInvalid, name, want.Size, want.SHA256, g.Size, g.SHA256)
		}
	}
	for name := range got {
		if _, ok := m.Files[name]; !ok {
			return Manifest{}, fmt.Errorf("%w: %s is not in the manifest", ErrInvalid, name)
		}
	}
	return m, nil
}

// replacedName is where a file that a restore replaces is kept: dst.replaced,
// or dst.replaced.1, .2, ... when that is taken (by an earlier restore, or
// by one that was interrupted and is run again), so that no replaced file is
// ever overwritten.
func replacedName(dst string) string {
	name := dst + ".replaced"
	for i := 1; ; i++ {
		if _, err := os.Lstat(name); errors.Is(err, os.ErrNotExist) {
			return name
		}
		name = fmt.Sprintf("%s.replaced.%d", dst, i)
	}
}

// auditPlan is what a restore does with the audit log.
type auditPlan struct {
	// useBackup: the backup's log becomes the live log (else the node's
	// stays).
	useBackup bool
	// reason is the restore entry's reason (audit.RestoreHistory...).
	reason string
	// backupHead is the seq of the backup's last audit entry.
	backupHead uint64
	// why says, for the node's log, why its history is not complete.
	why string
}

// planAudit decides which audit log is live after a restore: the one
// that holds the other (the node's own, normally: it is newer), so that no
// entry is lost and the chain is never cut; the backup's when the node's
// is missing or damaged (its history after the backup is then missing).
// backupLog is the backup's log (absent when hasBackupLog is false), nodeLog
// the node's.
func planAudit(backupLog, nodeLog string, hasBackupLog bool) (auditPlan, error) {
	bk := audit.Report{Head: audit.ZeroHash}
	if hasBackupLog {
		rep, err := audit.Verify(backupLog)
		if err != nil {
			return auditPlan{}, fmt.Errorf("%w: %s of the backup: %w", ErrInvalid, AuditFile, err)
		}
		bk = rep
	}
	p := auditPlan{backupHead: bk.LastSeq, reason: audit.RestoreHistoryComplete}
	cur, err := audit.Verify(nodeLog)
	if errors.Is(err, os.ErrNotExist) {
		p.useBackup, p.reason, p.why = true, audit.RestoreHistoryMissing, "the node has no audit log"
		return p, nil
	}
	if _, broken := errors.AsType[*audit.Break](err); broken {
		p.useBackup, p.reason, p.why = true, audit.RestoreHistoryMissing, err.Error()
		return p, nil
	}
	if err != nil {
		return auditPlan{}, fmt.Errorf("restore: the node's audit log: %w", err)
	}
	if cur.LastSeq >= bk.LastSeq {
		// The usual case: the node's log continues the backup's.
		h, err := hashAt(nodeLog, bk.LastSeq)
		if err != nil {
			return auditPlan{}, err
		}
		if h == bk.Head {
			return p, nil
		}
	} else {
		h, err := hashAt(backupLog, cur.LastSeq)
		if err != nil {
			return auditPlan{}, err
		}
		if h == cur.Head {
			p.useBackup = true
			return p, nil
		}
	}
	p.reason, p.why = audit.RestoreHistoryDiverged, "the node's audit log and the backup's are of different histories"
	return p, nil
}

// errFound stops a scan.
var errFound = errors.New("found")

// hashAt returns the hash of entry seq of the log at path (ZeroHash for 0).
func hashAt(path string, seq uint64) (string, error) {
	if seq == 0 {
		return audit.ZeroHash, nil
	}
	var h string
	err := audit.Scan(path, audit.Filter{}, func(e audit.Entry) error {
		if e.Seq == seq {
			h = e.Hash
			return errFound
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return "", fmt.Errorf("restore: %w", err)
	}
	return h, nil
}

// recordRestore appends the restore's entry to the audit log in dir (and
// closes it). It fails with audit.ErrLocked when the node is running.
func recordRestore(dir, node string, plan auditPlan, digest string, logger *slog.Logger) (audit.Entry, error) {
	id, err := identity.Parse(node)
	if err != nil {
		return audit.Entry{}, fmt.Errorf("%w: the restoring node %q: %w", ErrInvalid, node, err)
	}
	l, err := audit.Open(dir, logger)
	if err != nil {
		return audit.Entry{}, fmt.Errorf("restore: %w", err)
	}
	es, err := l.Append(audit.Entry{Kind: audit.KindRestored, Peer: id.Member, PeerID: id.String(), What: audit.What{
		ToSeq: plan.backupHead, Cursor: "sha256:" + digest, Reason: plan.reason,
	}})
	if cerr := l.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return audit.Entry{}, fmt.Errorf("restore: record the restore in the audit log: %w", err)
	}
	logger.Info("restore recorded in the audit log", "seq", es[0].Seq, "reason", plan.reason, "backup_head_seq", plan.backupHead, "sha256", digest)
	return es[0], nil
}
