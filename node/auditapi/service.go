package auditapi

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/node/audit"
	"github.com/accordfed/accord/node/grpcserver"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// ErrInvalid is wrapped by the refusals of a request's fields (gRPC
// InvalidArgument).
var ErrInvalid = grpcserver.ErrInvalidArgument

const (
	defaultPageSize = 100
	maxPageSize     = 1000
	// maxReaders is how many calls read the log at once: each reads the
	// whole file, and more would let one user's loop keep the node's
	// cores and disk busy.
	maxReaders = 2
)

// Service serves the audit log file at path of the node of member.
type Service struct {
	accordv1.UnimplementedAuditServiceServer
	path    string
	member  string
	readers chan struct{}
}

// New returns the service of the log file at path (audit.Log.Path) of the
// node of member.
func New(path, member string) *Service {
	return &Service{path: path, member: member, readers: make(chan struct{}, maxReaders)}
}

// Allow adds the service to the local API's policy: users of the node's
// own member only.
func (s *Service) Allow(p *grpcserver.Policy) {
	p.Allow("/"+accordv1.AuditService_ServiceDesc.ServiceName+"/", func(id identity.Identity) error {
		if id.Kind != identity.KindUser || id.Member != s.member {
			return fmt.Errorf("%w: the audit log is read by users of member %s only, not %s", grpcserver.ErrPermissionDenied, s.member, id)
		}
		return nil
	})
}

// ListAuditEntries returns a page of the log, newest first.
func (s *Service) ListAuditEntries(ctx context.Context, req *accordv1.ListAuditEntriesRequest) (*accordv1.ListAuditEntriesResponse, error) {
	size := int(req.GetPageSize())
	switch {
	case size == 0:
		size = defaultPageSize
	case size < 0 || size > maxPageSize:
		return nil, fmt.Errorf("%w: page_size: %d: must be between 1 and %d", ErrInvalid, size, maxPageSize)
	}
	if p := req.GetPeer(); p != "" {
		if err := identity.ValidateMember(p); err != nil {
			return nil, fmt.Errorf("%w: peer: %w", ErrInvalid, err)
		}
	}
	select {
	case s.readers <- struct{}{}:
		defer func() { <-s.readers }()
	default:
		return nil, fmt.Errorf("%w: the audit log is being read by %d other requests: try again in a moment", grpcserver.ErrResourceExhausted, maxReaders)
	}
	// One pass over the file: the chain's check (what audit.Verify
	// reports; Scan checks every line and link as Verify does) and the
	// last size+1 selected entries before before_seq, in a ring (the extra
	// one says whether an older page exists).
	before := req.GetBeforeSeq()
	rep := audit.Report{Path: s.path, Head: audit.ZeroHash}
	ring := make([]audit.Entry, 0, size+1)
	next := 0
	err := audit.Scan(s.path, audit.Filter{}, func(e audit.Entry) error {
		if e.Seq%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if rep.Entries == 0 {
			rep.First = e.Time
		}
		rep.Entries++
		rep.LastSeq, rep.Head, rep.Last = e.Seq, e.Hash, e.Time
		rep.Unanchored++
		if e.Kind == audit.KindAnchor {
			rep.LastAnchorSeq, rep.Unanchored = e.Seq, 0
		}
		if (before != 0 && e.Seq >= before) || (req.GetPeer() != "" && e.Peer != req.GetPeer()) {
			return nil
		}
		if len(ring) < size+1 {
			ring = append(ring, e)
			return nil
		}
		ring[next] = e
		next = (next + 1) % (size + 1)
		return nil
	})
	brk, broken := errors.AsType[*audit.Break](err)
	if err != nil && !broken {
		return nil, err
	}
	resp := &accordv1.ListAuditEntriesResponse{Verification: verification(rep)}
	if broken {
		resp.Verification.Verified = false
		resp.Verification.BrokenSeq, resp.Verification.BrokenLine, resp.Verification.BrokenReason = brk.Seq, int64(brk.Line), brk.Reason
	}
	// Newest first.
	n := len(ring)
	for i := range min(n, size) {
		resp.Entries = append(resp.Entries, entry(ring[(next+n-1-i)%n]))
	}
	if n > size {
		resp.NextBeforeSeq = resp.Entries[len(resp.Entries)-1].GetSeq()
	}
	return resp, nil
}

func verification(rep audit.Report) *accordv1.AuditVerification {
	v := &accordv1.AuditVerification{Verified: true, Entries: rep.Entries, LastSeq: rep.LastSeq, Head: rep.Head,
		LastAnchorSeq: rep.LastAnchorSeq, Unanchored: rep.Unanchored}
	if !rep.First.IsZero() {
		v.FirstTime, v.LastTime = timestamppb.New(rep.First), timestamppb.New(rep.Last)
	}
	return v
}

func entry(e audit.Entry) *accordv1.AuditEntry {
	return &accordv1.AuditEntry{Seq: e.Seq, Time: timestamppb.New(e.Time), Kind: e.Kind.String(), Peer: e.Peer, PeerId: e.PeerID,
		Records: int64(e.What.Records), FromSeq: e.What.FromSeq, ToSeq: e.What.ToSeq, CaseIds: e.What.CaseIDs,
		MoreCases: int64(e.What.MoreCases), Reason: e.What.Reason, Hash: e.Hash, AnchorKey: e.Key}
}
