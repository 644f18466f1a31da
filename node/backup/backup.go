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
	"os"
	"path/filepath"
	"time"

	"github.com/accordfed/accord/node/store"
)

// ErrInvalid is wrapped when an archive is not a backup, is damaged, or
// does not fit the data folder it is restored into.
var ErrInvalid = errors.New("invalid backup")

// The files of a backup, as named in the archive and in the data folder.
const (
	StoreFile    = "store.db"
	AuditFile    = "audit.log"
	KeyFile      = "signing.key"
	RegistryFile = "registry-state.jsonl"
	manifestFile = "MANIFEST.json"
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
	}{{StoreFile, src.Store}, {AuditFile, src.Audit}, {KeyFile, src.Key}, {RegistryFile, src.Registry}} {
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

// Restore checks the archive read from r against its manifest and writes
// its files into dataDir: the store, audit log and signing key in place,
// the registry snapshot under restored/. It refuses a data folder that
// already holds a store unless force is set; then the files it replaces
// are kept beside with the suffix .replaced (.replaced.1, .2, ... when
// taken: none is overwritten). member, when not empty, must be the
// backup's member. A restore that is killed can be run again.
func Restore(r io.Reader, dataDir, member string, force bool) (Manifest, error) {
	if _, err := os.Stat(filepath.Join(dataDir, StoreFile)); err == nil && !force {
		return Manifest{}, fmt.Errorf("%w: %s already holds a store: restore into an empty data folder, or give --force to replace it", ErrInvalid, dataDir)
	}
	if err := os.MkdirAll(filepath.Join(dataDir, "restored"), 0o700); err != nil {
		return Manifest{}, err
	}
	// A restore that was killed left its staging folder behind; the node is
	// stopped, so no restore runs but this one.
	stale, err := filepath.Glob(filepath.Join(dataDir, ".restore-*"))
	if err != nil {
		return Manifest{}, err
	}
	for _, dir := range stale {
		if err := os.RemoveAll(dir); err != nil {
			return Manifest{}, err
		}
	}
	stage, err := os.MkdirTemp(dataDir, ".restore-*")
	if err != nil {
		return Manifest{}, err
	}
	defer os.RemoveAll(stage)
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
				return Manifest{}, err
			}
			continue
		case StoreFile, AuditFile, KeyFile, RegistryFile:
		default:
			return Manifest{}, fmt.Errorf("%w: unexpected file %q in the archive", ErrInvalid, hdr.Name)
		}
		f, err := os.OpenFile(filepath.Join(stage, hdr.Name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return Manifest{}, err
		}
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(f, h), tr)
		if err == nil {
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
	// The restored store's feed is older than what peers pulled from it:
	// a new feed epoch makes them resync instead of resuming from cursors
	// past its head (they would skip the records published there next).
	if err := store.RenewFeedEpoch(filepath.Join(stage, StoreFile)); err != nil {
		return Manifest{}, fmt.Errorf("%w: %s: %w", ErrInvalid, StoreFile, err)
	}
	for name := range m.Files {
		dst := filepath.Join(dataDir, name)
		if name == RegistryFile {
			dst = filepath.Join(dataDir, "restored", name)
		}
		if _, err := os.Stat(dst); err == nil {
			if err := os.Rename(dst, replacedName(dst)); err != nil {
				return Manifest{}, err
			}
		}
		if err := os.Rename(filepath.Join(stage, name), dst); err != nil {
			return Manifest{}, err
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
