package store

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/accordfed/accord/federation/identity"
)

// Sentinel errors. Each is wrapped with %w and a message naming the object.
var (
	// ErrNotFound: the case or evidence item does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: a case or evidence item with this id exists already.
	ErrExists = errors.New("already exists")
	// ErrDuplicateContent: evidence registered on a case that already
	// holds an item of the same content (SHA-256), without
	// RegisterOptions.AllowDuplicate.
	ErrDuplicateContent = errors.New("duplicate content")
	// ErrVersionMismatch: an update named a version that is not the
	// stored one (someone else changed the case meanwhile).
	ErrVersionMismatch = errors.New("version mismatch")
	// ErrInvalid: the request breaks a rule of the store (an evidence id
	// used by another case, a missing deletion reason, a negative page
	// size).
	ErrInvalid = errors.New("invalid request")
	// ErrNewerSchema: the store was written by a newer accordd.
	ErrNewerSchema = errors.New("store has a newer schema version")
	// ErrWrongMember: the store belongs to another member.
	ErrWrongMember = errors.New("store belongs to another member")
	// ErrCorrupt: a record cannot be decoded.
	ErrCorrupt = errors.New("store record is damaged")
)

// Options tune Open.
type Options struct {
	// Logger; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OpenTimeout bounds waiting for another process's lock on the file
	// (default 2s): two daemons on one store are refused.
	OpenTimeout time.Duration
}

// Store is a node's evidence index on disk (bbolt). It is safe for
// concurrent use; writes are serialised by bbolt, and every write is one
// transaction, fsynced before it returns.
type Store struct {
	db     *bolt.DB
	member string
	path   string
	logger *slog.Logger
	now    func() time.Time
	// pageKey authenticates the local API's page tokens (PageTokenKey).
	pageKey []byte

	changes, published notifier
	// hooks are called after commits (SetHooks).
	hooks atomic.Pointer[hookSet]

	// fedCount is the federation index's records per origin (withdrawn
	// ones not counted): nil until FedCounts first counts them, then kept
	// by every write of the index, so that FederationStatus and the
	// metrics do not read every record each time.
	fedCountMu sync.Mutex
	fedCount   map[string]int
}

// Open opens or creates the store at path for member. It refuses a store of
// a newer schema version, of another member, or locked by another process.
func Open(path, member string, opts Options) (*Store, error) {
	if err := identity.ValidateMember(member); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.OpenTimeout == 0 {
		opts.OpenTimeout = 2 * time.Second
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: opts.OpenTimeout,
		// The freelist is written at every commit (bbolt's default): not
		// writing it would make every open rebuild it by reading every page
		// of the file, pulling the whole store into memory.
		FreelistType: bolt.FreelistMapType,
		// Growing the file remaps it, and a remap first copies every node
		// the open transaction touched out of the old mapping; mapping 1 GiB
		// of address space at once (memory is used only as pages are read)
		// keeps bulk imports from paying that at every doubling.
		InitialMmapSize: 1 << 30,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open store %s: locked by another process (is another accordd using this data_dir?)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{db: db, member: member, path: path, logger: opts.Logger, now: opts.Now}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	// Opening read every page to rebuild the freelist; drop them from the
	// process's resident memory.
	if err := s.Trim(); err != nil {
		s.logger.Warn("could not trim the store's mapping", "err", err)
	}
	return s, nil
}

func (s *Store) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(metaSchemaVersion); v != nil {
			n, err := strconv.Atoi(string(v))
			if err != nil {
				return fmt.Errorf("%w: %s: schema version %q", ErrCorrupt, s.path, v)
			}
			if n > SchemaVersion {
				return fmt.Errorf("%w: %s has schema version %d; this accordd understands up to %d: run a newer accordd, or restore a backup made by this version",
					ErrNewerSchema, s.path, n, SchemaVersion)
			}
			if m := string(meta.Get(metaMember)); m != s.member {
				return fmt.Errorf("%w: %s holds the cases of member %s, this node is %s", ErrWrongMember, s.path, m, s.member)
			}
			if err := s.initPageKey(meta); err != nil {
				return err
			}
			return initFeed(tx)
		}
		if err := meta.Put(metaSchemaVersion, []byte(strconv.Itoa(SchemaVersion))); err != nil {
			return err
		}
		if err := meta.Put(metaMember, []byte(s.member)); err != nil {
			return err
		}
		if err := meta.Put(metaCreated, []byte(s.now().UTC().Format(time.RFC3339Nano))); err != nil {
			return err
		}
		if err := s.initPageKey(meta); err != nil {
			return err
		}
		return initFeed(tx)
	})
}

// initPageKey reads the page-token key, making it first in a store that
// has none (a new store, or one made before page tokens were
// authenticated).
func (s *Store) initPageKey(meta *bolt.Bucket) error {
	if k := meta.Get(metaPageTokenKey); len(k) == 32 {
		s.pageKey = bytes.Clone(k)
		return nil
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	if err := meta.Put(metaPageTokenKey, key); err != nil {
		return err
	}
	s.pageKey = key
	return nil
}

// PageTokenKey returns the store's secret key for the local API's page
// tokens: random, made once, and kept (in the store, and in its backups).
func (s *Store) PageTokenKey() []byte { return bytes.Clone(s.pageKey) }

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Member returns the member whose cases the store holds.
func (s *Store) Member() string { return s.member }

// Path returns the store's file.
func (s *Store) Path() string { return s.path }

// Stats describes the store's contents.
type Stats struct {
	Cases          int
	EvidenceItems  int
	CustodyEvents  int
	Seals          int
	SizeBytes      int64
	SchemaVersion  int
	DeletedRecords int
}

// Stats counts what the store holds.
func (s *Store) Stats() (Stats, error) {
	var st Stats
	err := s.db.View(func(tx *bolt.Tx) error {
		st.Cases = tx.Bucket(bucketCaseIDs).Stats().KeyN
		st.EvidenceItems = tx.Bucket(bucketEvidenceIDs).Stats().KeyN
		st.CustodyEvents = tx.Bucket(bucketCustody).Stats().KeyN
		st.Seals = tx.Bucket(bucketSeals).Stats().KeyN
		st.DeletedRecords = tx.Bucket(bucketDeleted).Stats().KeyN
		st.SizeBytes = tx.Size()
		st.SchemaVersion, _ = strconv.Atoi(string(tx.Bucket(bucketMeta).Get(metaSchemaVersion)))
		return nil
	})
	return st, err
}

// nextSeq returns the next value of a counter in bucketMeta.
func nextSeq(tx *bolt.Tx, key []byte) uint64 {
	meta := tx.Bucket(bucketMeta)
	n := getU64(meta.Get(key)) + 1
	_ = meta.Put(key, u64(n)) // cannot fail inside a writable transaction with a valid key
	return n
}
