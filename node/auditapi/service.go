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
)

// Service serves the audit log file at path of the node of member.
type Service struct {
	accordv1.UnimplementedAuditServiceServer
	path   string
	member string
}

// New returns the service of the log file at path (audit.Log.Path) of the
// node of member.
func New(path, member string) *Service { return &Service{path: path, member: member} }

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
	rep, err := audit.Verify(s.path)
	resp := &accordv1.ListAuditEntriesResponse{Verification: verification(rep)}
	if brk, ok := errors.AsType[*audit.Break](err); ok {
		resp.Verification.Verified = false
		resp.Verification.BrokenSeq, resp.Verification.BrokenLine, resp.Verification.BrokenReason = brk.Seq, int64(brk.Line), brk.Reason
	} else if err != nil {
		return nil, err
	}
	// The page: the last size entries before "before" (and of the peer),
	// kept in a ring while the log is read in order.
	before := rep.LastSeq + 1
	if b := req.GetBeforeSeq(); b != 0 && b < before {
		before = b
	}
	ring := make([]audit.Entry, 0, size)
	next, older := 0, false
	err = audit.Scan(s.path, audit.Filter{Peer: req.GetPeer()}, func(e audit.Entry) error {
		if e.Seq >= before {
			return errStop
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(ring) < size {
			ring = append(ring, e)
			return nil
		}
		ring[next] = e
		next = (next + 1) % size
		older = true
		return nil
	})
	if _, broken := errors.AsType[*audit.Break](err); err != nil && !broken && !errors.Is(err, errStop) {
		return nil, err
	}
	// Newest first.
	for i := range ring {
		e := ring[(next+len(ring)-1-i)%len(ring)]
		resp.Entries = append(resp.Entries, entry(e))
	}
	if older && len(resp.Entries) > 0 {
		resp.NextBeforeSeq = resp.Entries[len(resp.Entries)-1].GetSeq()
	}
	return resp, nil
}

var errStop = errors.New("page read")

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
