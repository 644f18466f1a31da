package persons

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/accordfed/accord/federation/persontoken"
)

// KeyDir is the directory of the node's person-token keys under its data
// directory: one file v<N>.key (mode 0600) per key version.
const KeyDir = "person-token"

// KeyRing holds the node's own person-token keys, one per version; the
// highest is current. The keys never leave the node (not in the registry,
// not in a shared record); they are in the node's backups, which only the
// member itself can read when backups are encrypted.
type KeyRing struct {
	dir string

	mu   sync.RWMutex
	keys map[int]*persontoken.Key
	made map[int]Made
}

// Made says when a key version was made: the time, and the registry index
// the node had applied then (0 until the node records it), against which
// departures of members are told apart (registry order, not clocks).
type Made struct {
	Index uint64
	Time  time.Time
}

// ImportFile is the file under the data directory from which OpenKeyRing
// takes in keys that a restore put back ([KeyRing.Export]'s format); it is
// removed once they are in place.
const ImportFile = "person-token.keys"

// OpenKeyRing reads the keys under dataDir, taking in those of a restored
// backup (ImportFile), and making version 1 on first start.
func OpenKeyRing(dataDir string) (*KeyRing, error) {
	dir := filepath.Join(dataDir, KeyDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := importKeys(filepath.Join(dataDir, ImportFile), dir); err != nil {
		return nil, err
	}
	r := &KeyRing{dir: dir, keys: map[int]*persontoken.Key{}, made: map[int]Made{}}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		v, ok := versionOf(e.Name())
		if !ok {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		k, err := persontoken.ParseKey(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, e.Name()), err)
		}
		r.keys[v] = k
		m, err := readMade(dir, v)
		if err != nil {
			return nil, err
		}
		r.made[v] = m
	}
	if len(r.keys) == 0 {
		if _, err := r.Rotate(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func versionOf(name string) (int, bool) {
	s, ok := strings.CutPrefix(name, "v")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, ".key")
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	return v, err == nil && v > 0 && strconv.Itoa(v) == s
}

// Current returns the current version and key.
func (r *KeyRing) Current() (int, *persontoken.Key) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v := r.currentLocked()
	return v, r.keys[v]
}

func (r *KeyRing) currentLocked() int {
	cur := 0
	for v := range r.keys {
		cur = max(cur, v)
	}
	return cur
}

// Key returns the key of version v.
func (r *KeyRing) Key(v int) (*persontoken.Key, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	k, ok := r.keys[v]
	return k, ok
}

// Versions returns the versions held, lowest first.
func (r *KeyRing) Versions() []int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]int, 0, len(r.keys))
	for v := range r.keys {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// Rotate makes the next version and returns it. The file is written (and
// synced) before the key is used.
func (r *KeyRing) Rotate() (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k, err := persontoken.GenerateKey(nil)
	if err != nil {
		return 0, err
	}
	v := r.currentLocked() + 1
	path := keyName(r.dir, v)
	if err := createKeyFile(path, k.Marshal()); err != nil {
		return 0, err
	}
	m := Made{Time: time.Now().UTC()}
	if err := writeMade(r.dir, v, m); err != nil {
		_ = os.Remove(path)
		return 0, err
	}
	r.keys[v] = k
	r.made[v] = m
	return v, nil
}

// Made returns when version v was made.
func (r *KeyRing) Made(v int) Made {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.made[v]
}

// SetMadeIndex records the registry index at which version v was made (the
// node sets it once its registry has caught up).
func (r *KeyRing) SetMadeIndex(v int, index uint64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.made[v]
	if !ok {
		return fmt.Errorf("person-token key version %d is not held", v)
	}
	m.Index = index
	if err := writeMade(r.dir, v, m); err != nil {
		return err
	}
	r.made[v] = m
	return nil
}

// keyName is the file of key version v.
func keyName(dir string, v int) string { return filepath.Join(dir, "v"+strconv.Itoa(v)+".key") }

// createKeyFile writes a new key file (mode 0600, synced); it wraps
// os.ErrExist when the file is there already, and leaves nothing behind
// when it fails.
func createKeyFile(path string, raw []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(raw)
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		_ = os.Remove(path)
		return err
	}
	return nil
}

// madeName is the file beside v<N>.key that says when it was made:
// "<registry index> <RFC 3339 time>".
func madeName(dir string, v int) string { return filepath.Join(dir, "v"+strconv.Itoa(v)+".made") }

func writeMade(dir string, v int, m Made) error {
	return os.WriteFile(madeName(dir, v), []byte(strconv.FormatUint(m.Index, 10)+" "+m.Time.Format(time.RFC3339Nano)+"\n"), 0o600)
}

// readMade reads when version v was made; a key without the file (made
// before it existed) counts as made when its file was written, at an
// unknown index.
func readMade(dir string, v int) (Made, error) {
	b, err := os.ReadFile(madeName(dir, v))
	if errors.Is(err, os.ErrNotExist) {
		fi, err := os.Stat(keyName(dir, v))
		if err != nil {
			return Made{}, err
		}
		return Made{Time: fi.ModTime().UTC()}, nil
	}
	if err != nil {
		return Made{}, err
	}
	return parseMade(strings.TrimSpace(string(b)))
}

func parseMade(s string) (Made, error) {
	idx, ts, ok := strings.Cut(s, " ")
	i, err := strconv.ParseUint(idx, 10, 64)
	t, terr := time.Parse(time.RFC3339Nano, ts)
	if !ok || err != nil || terr != nil {
		return Made{}, fmt.Errorf("person-token key made-file %q: not \"<index> <time>\"", s)
	}
	return Made{Index: i, Time: t}, nil
}

// Drop deletes a version that is not current: what the tokens of that
// version revealed to anyone ends with it.
func (r *KeyRing) Drop(v int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v == r.currentLocked() {
		return fmt.Errorf("person-token key version %d is current", v)
	}
	if _, ok := r.keys[v]; !ok {
		return nil
	}
	if err := os.Remove(keyName(r.dir, v)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Remove(madeName(r.dir, v)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	delete(r.keys, v)
	delete(r.made, v)
	return nil
}

// Export writes every version as a line "v<N> <standard base64 of the
// key> <registry index> <time made>": the node's backup of its keys.
func (r *KeyRing) Export(w io.Writer) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	vs := make([]int, 0, len(r.keys))
	for v := range r.keys {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	for _, v := range vs {
		m := r.made[v]
		if _, err := fmt.Fprintf(w, "v%d %s %d %s\n", v, base64.StdEncoding.EncodeToString(r.keys[v].Marshal()), m.Index, m.Time.Format(time.RFC3339Nano)); err != nil {
			return err
		}
	}
	return nil
}

// importKeys writes the keys of an exported file into dir (a version the
// node already holds is kept as it is: a restore into a live data folder
// keeps the newer key files) and removes the file.
func importKeys(path, dir string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		b64, madeText, _ := strings.Cut(rest, " ")
		v, vok := versionOf(name + ".key")
		raw, err := base64.StdEncoding.DecodeString(b64)
		if !ok || !vok || err != nil {
			return fmt.Errorf("%s line %d: not \"v<N> <base64 key> <index> <time>\"", path, i+1)
		}
		m := Made{Time: time.Now().UTC()}
		if madeText != "" {
			if m, err = parseMade(madeText); err != nil {
				return fmt.Errorf("%s line %d: %w", path, i+1, err)
			}
		}
		if _, err := persontoken.ParseKey(raw); err != nil {
			return fmt.Errorf("%s line %d: %w", path, i+1, err)
		}
		err = createKeyFile(keyName(dir, v), raw)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := writeMade(dir, v, m); err != nil {
			return err
		}
	}
	return os.Remove(path)
}
