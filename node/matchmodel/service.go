package matchmodel

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/node/grpcserver"
	"github.com/accordfed/accord/node/matcher"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Source returns the model the node's matcher scores with; ok is false
// when the node runs no matcher (no federation exchange).
type Source func() (fit matcher.Fit, ok bool)

// Service implements accord.v1.MatchingService.
type Service struct {
	accordv1.UnimplementedMatchingServiceServer
	member string
	source Source
}

// New returns the service of member's node.
func New(member string, source Source) *Service {
	return &Service{member: member, source: source}
}

// Allow adds the service to the local API's policy: users of the node's own
// member only.
func (s *Service) Allow(p *grpcserver.Policy) {
	p.Allow("/"+accordv1.MatchingService_ServiceDesc.ServiceName+"/", func(id identity.Identity) error {
		if id.Kind != identity.KindUser || id.Member != s.member {
			return fmt.Errorf("%w: the local API serves users of member %s only, not %s", grpcserver.ErrPermissionDenied, s.member, id)
		}
		return nil
	})
}

// GetMatchingModel implements MatchingService.GetMatchingModel.
func (s *Service) GetMatchingModel(context.Context, *accordv1.GetMatchingModelRequest) (*accordv1.GetMatchingModelResponse, error) {
	fit, ok := s.source()
	if !ok {
		return nil, grpcserver.ToStatus(fmt.Errorf("%w: this node runs no matcher (it takes no part in the federation exchange)", grpcserver.ErrFailedPrecondition))
	}
	return &accordv1.GetMatchingModelResponse{Model: toModel(fit)}, nil
}

func toModel(fit matcher.Fit) *accordv1.MatchingModel {
	prior, priorWeight, comps := fit.Model.Describe()
	out := &accordv1.MatchingModel{
		Prior: prior, PriorWeight: priorWeight, DefaultModel: fit.Default,
		Records: int64(fit.Stats.Records), CandidatePairs: int64(fit.Stats.CandidatePairs),
		FittedPairs: int64(fit.Stats.EMPairs), NonMatchPairs: int64(fit.Stats.NonMatchPairs), Guard: fit.Stats.Fallback,
	}
	if !fit.At.IsZero() {
		out.FittedAt = timestamppb.New(fit.At)
	}
	for _, c := range comps {
		mc := &accordv1.MatchingComparison{Name: c.Name}
		for _, l := range c.Levels {
			mc.Levels = append(mc.Levels, &accordv1.MatchingLevel{Label: l.Label, M: l.M, U: l.U, Weight: l.Weight})
		}
		out.Comparisons = append(out.Comparisons, mc)
	}
	return out
}
