package registry

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The snapshot format.
//
// A snapshot is JSON lines: one object per line, each with exactly one
// member set. The first line is the header
//
//	{"header":{"format":"accord-registry-snapshot","version":1,"applied_index":N,"meta":{...}}}
//
// then one line per record, by kind and in id order (members, teams, lead
// assignments, strategy entries with their full history, match decisions,
// federation keys, the exactly-once table), for example
//
//	{"member":{"code":"UA",...}}
//
// and last the trailer {"end":{"records":N}}, whose count catches a
// truncated file. The same state always gives the same bytes.
const (
	SnapshotFormat  = "accord-registry-snapshot"
	SnapshotVersion = 1
	// maxSnapshotLine bounds the memory one line may take on restore.
	maxSnapshotLine = 256 << 20
)

// ErrSnapshot is returned by Restore for a snapshot it cannot read; the FSM
// keeps its previous state.
var ErrSnapshot = errors.New("invalid registry snapshot")

type snapHeader struct {
	Format       string `json:"format"`
	Version      int    `json:"version"`
	AppliedIndex uint64 `json:"applied_index"`
	// LogChain is the log chain at the applied index (logchain.go), hex.
	LogChain string `json:"log_chain,omitempty"`
	Meta     meta   `json:"meta"`
}

type snapTrailer struct {
	Records int `json:"records"`
}

type snapLine struct {
	Header *snapHeader     `json:"header,omitempty"`
	Member *Member         `json:"member,omitempty"`
	JIT    *JIT            `json:"jit,omitempty"`
	Lead   *LeadAssignment `json:"lead,omitempty"`
	Entry  *strategyRecord `json:"entry,omitempty"`
	Match  *MatchDecision  `json:"match,omitempty"`
	Key    *FederationKey  `json:"key,omitempty"`
	Dedupe *dedupeRecord   `json:"dedupe,omitempty"`
	End    *snapTrailer    `json:"end,omitempty"`
}

// set counts the members a line sets.
func (l *snapLine) set() int {
	n := 0
	for _, p := range []bool{l.Header != nil, l.Member != nil, l.JIT != nil, l.Lead != nil, l.Entry != nil,
		l.Match != nil, l.Key != nil, l.Dedupe != nil, l.End != nil} {
		if p {
			n++
		}
	}
	return n
}

// writeSnapshot streams a frozen state to w, one record at a time.
func writeSnapshot(w io.Writer, fz *frozen) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	records := 0
	put := func(l *snapLine) error {
		if err := enc.Encode(l); err != nil {
			return fmt.Errorf("registry: write snapshot: %w", err)
		}
		records++
		return nil
	}
	if err := put(&snapLine{Header: &snapHeader{Format: SnapshotFormat, Version: SnapshotVersion,
		AppliedIndex: fz.index, LogChain: hex.EncodeToString(fz.chain[:]), Meta: fz.meta}}); err != nil {
		return err
	}
	if err := writeTable(fz.members, strings.Compare, func(m *Member) *snapLine { return &snapLine{Member: m} }, put); err != nil {
		return err
	}
	if err := writeTable(fz.jits, idCompare, func(j *JIT) *snapLine { return &snapLine{JIT: j} }, put); err != nil {
		return err
	}
	if err := writeTable(fz.leads, idCompare, func(a *LeadAssignment) *snapLine { return &snapLine{Lead: a} }, put); err != nil {
		return err
	}
	if err := writeTable(fz.entries, idCompare, func(r *strategyRecord) *snapLine { return &snapLine{Entry: r} }, put); err != nil {
		return err
	}
	if err := writeTable(fz.matches, idCompare, func(d *MatchDecision) *snapLine { return &snapLine{Match: d} }, put); err != nil {
		return err
	}
	if err := writeTable(fz.keys, strings.Compare, func(k *FederationKey) *snapLine { return &snapLine{Key: k} }, put); err != nil {
		return err
	}
	if err := writeTable(fz.dedupe, strings.Compare, func(r *dedupeRecord) *snapLine { return &snapLine{Dedupe: r} }, put); err != nil {
		return err
	}
	if err := put(&snapLine{End: &snapTrailer{Records: records - 1}}); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("registry: write snapshot: %w", err)
	}
	return nil
}

func writeTable[V any](t *table[V], cmp func(a, b string) int, line func(V) *snapLine, put func(*snapLine) error) error {
	for _, k := range t.sortedKeys(cmp) {
		if err := put(line(t.m[k])); err != nil {
			return err
		}
	}
	return nil
}

// readSnapshot reads a snapshot line by line into a new state.
func readSnapshot(r io.Reader) (*state, uint64, [32]byte, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	st := newState()
	var (
		buf     []byte
		header  *snapHeader
		records int
		lineNo  int
	)
	fail := func(format string, args ...any) (*state, uint64, [32]byte, error) {
		return nil, 0, [32]byte{}, fmt.Errorf("%w: line %d: %s", ErrSnapshot, lineNo, fmt.Sprintf(format, args...))
	}
	for {
		var err error
		buf, err = readLine(br, buf[:0])
		if errors.Is(err, io.EOF) {
			if header == nil {
				return fail("empty snapshot")
			}
			return fail("truncated: no end line")
		}
		if err != nil {
			return fail("%v", err)
		}
		lineNo++
		var l snapLine
		dec := json.NewDecoder(bytes.NewReader(buf))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return fail("%v", err)
		}
		if l.set() != 1 {
			return fail("a line must hold exactly one record")
		}
		if header == nil {
			if l.Header == nil {
				return fail("the first line must be the header")
			}
			if l.Header.Format != SnapshotFormat || l.Header.Version != SnapshotVersion {
				return fail("format %q version %d; this registry reads %q version %d",
					l.Header.Format, l.Header.Version, SnapshotFormat, SnapshotVersion)
			}
			header = l.Header
			st.meta = header.Meta
			continue
		}
		if l.End != nil {
			if l.End.Records != records {
				return fail("end line counts %d records, the snapshot holds %d", l.End.Records, records)
			}
			if _, err := readLine(br, buf[:0]); !errors.Is(err, io.EOF) {
				return fail("data after the end line")
			}
			break
		}
		records++
		if err := st.restoreRecord(&l); err != nil {
			return fail("%v", err)
		}
	}
	st.rebuildIndexes()
	chain, err := parseChain(header.LogChain)
	if err != nil {
		return nil, 0, [32]byte{}, err
	}
	return st, header.AppliedIndex, chain, nil
}

// readLine reads one line, without its newline, into buf. A last line
// without a newline is a truncated snapshot.
func readLine(r *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		frag, err := r.ReadSlice('\n')
		if len(buf)+len(frag) > maxSnapshotLine {
			return nil, fmt.Errorf("line longer than %d bytes", maxSnapshotLine)
		}
		buf = append(buf, frag...)
		switch {
		case err == nil:
			return buf[:len(buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(buf) > 0:
			return nil, errors.New("truncated: last line has no newline")
		}
		return nil, err
	}
}

func restorePut[V any](t *table[V], key string, v V) error {
	if key == "" {
		return errors.New("record without an id")
	}
	if _, dup := t.m[key]; dup {
		return fmt.Errorf("record %q appears twice", key)
	}
	t.m[key] = v
	return nil
}

// restoreRecord adds one record line to a state being restored.
func (s *state) restoreRecord(l *snapLine) error {
	switch {
	case l.Member != nil:
		return restorePut(s.members, l.Member.Code, l.Member)
	case l.JIT != nil:
		if len(l.JIT.Members) == 0 {
			return fmt.Errorf("joint investigation team %q has no members", l.JIT.ID)
		}
		return restorePut(s.jits, l.JIT.ID, l.JIT)
	case l.Lead != nil:
		if len(l.Lead.Cases) == 0 {
			return fmt.Errorf("lead assignment %q has no cases", l.Lead.ID)
		}
		return restorePut(s.leads, l.Lead.ID, l.Lead)
	case l.Entry != nil:
		if len(l.Entry.Versions) == 0 {
			return fmt.Errorf("strategy entry %q has no versions", l.Entry.ID)
		}
		return restorePut(s.entries, l.Entry.ID, l.Entry)
	case l.Match != nil:
		if len(l.Match.Cases) == 0 {
			return fmt.Errorf("match decision %q has no cases", l.Match.ID)
		}
		return restorePut(s.matches, l.Match.ID, l.Match)
	case l.Key != nil:
		if len(l.Key.Versions) == 0 {
			return fmt.Errorf("federation key %q has no versions", l.Key.Name)
		}
		return restorePut(s.keys, l.Key.Name, l.Key)
	case l.Dedupe != nil:
		if l.Dedupe.Member == "" {
			return errors.New("dedupe record without a member")
		}
		return restorePut(s.dedupe, dedupeKey(l.Dedupe.Member, l.Dedupe.RequestID), l.Dedupe)
	}
	return errors.New("a second header")
}

// rebuildIndexes derives the indexes a snapshot does not carry.
func (s *state) rebuildIndexes() {
	for _, a := range s.leads.m {
		if a.Status != LeadRefused {
			s.leadGroups[groupKey(a.Cases)] = a.ID
		}
	}
	for _, d := range s.matches.m {
		key := groupKey(d.Cases)
		if d.Status != MatchRejected {
			s.matchGroups[key] = d.ID
		}
		if s.latestMatch[key] == "" || idCompare(s.latestMatch[key], d.ID) < 0 {
			s.latestMatch[key] = d.ID
		}
	}
	s.matchLog.rebuild(s.matches.m)
	s.matchQueue.rebuild(s.matches.m)
	s.rebuildQueues()
}
