package registryraft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/hashicorp/raft"
)

// errLogChecksum is wrapped when a log entry read back from raft.db does
// not match the checksum it was written with.
var errLogChecksum = errors.New("log entry does not match its checksum")

// sumVersion starts the checksum a log entry carries in its Extensions.
const sumVersion = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksummedLogs keeps a CRC-32C of every log entry (its index, term, type
// and data) in the entry's Extensions, and checks it whenever the entry is
// read back. bbolt checksums only its meta pages: without this, a changed
// byte in an entry of raft.db would be replayed, replicated and applied as
// if it were whole, and the node's registry would silently differ from the
// others'. An entry without a checksum (written before entries had one) is
// read as it is.
type checksummedLogs struct{ raft.LogStore }

func entrySum(l *raft.Log) []byte {
	var head [17]byte
	binary.BigEndian.PutUint64(head[0:], l.Index)
	binary.BigEndian.PutUint64(head[8:], l.Term)
	head[16] = byte(l.Type)
	h := crc32.New(castagnoli)
	h.Write(head[:])
	h.Write(l.Data)
	return binary.BigEndian.AppendUint32([]byte{sumVersion}, h.Sum32())
}

// StoreLog stores an entry with its checksum.
func (s checksummedLogs) StoreLog(l *raft.Log) error {
	return s.StoreLogs([]*raft.Log{l})
}

// StoreLogs stores entries with their checksums; the caller's entries are
// not changed (Raft may still be reading them).
func (s checksummedLogs) StoreLogs(logs []*raft.Log) error {
	sealed := make([]*raft.Log, len(logs))
	for i, l := range logs {
		c := *l
		c.Extensions = entrySum(l)
		sealed[i] = &c
	}
	return s.LogStore.StoreLogs(sealed)
}

// GetLog reads an entry and checks its checksum.
func (s checksummedLogs) GetLog(index uint64, l *raft.Log) error {
	if err := s.LogStore.GetLog(index, l); err != nil {
		return err
	}
	if len(l.Extensions) == 0 {
		return nil
	}
	if want := entrySum(l); string(l.Extensions) != string(want) {
		return fmt.Errorf("%w (entry %d, term %d)", errLogChecksum, index, l.Term)
	}
	return nil
}
