package backup

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/node/grpcserver"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// chunkSize is the size of the archive's pieces in the stream.
const chunkSize = 256 << 10

// Service implements accord.v1.NodeAdminService.
type Service struct {
	accordv1.UnimplementedNodeAdminServiceServer
	source  func() Source
	tmpDir  string
	member  string
	isAdmin func(identity.Identity) bool
	logger  *slog.Logger
}

// NewService returns the service of a node of member: source says what to
// back up, tmpDir where to spool.
func NewService(source func() Source, tmpDir, member string, isAdmin func(identity.Identity) bool, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{source: source, tmpDir: tmpDir, member: member, isAdmin: isAdmin, logger: logger}
}

// Allow adds the service to the local API's policy: admins of the node's
// own member only.
func (s *Service) Allow(p *grpcserver.Policy) {
	p.Allow("/"+accordv1.NodeAdminService_ServiceDesc.ServiceName+"/", func(id identity.Identity) error {
		if id.Kind != identity.KindUser || id.Member != s.member {
			return fmt.Errorf("%w: the local API serves users of member %s only, not %s", grpcserver.ErrPermissionDenied, s.member, id)
		}
		if !s.isAdmin(id) {
			return fmt.Errorf("%w: a backup needs the admin role; %s is an analyst", grpcserver.ErrPermissionDenied, id)
		}
		return nil
	})
}

// Backup implements NodeAdminService.Backup.
func (s *Service) Backup(_ *accordv1.BackupRequest, stream accordv1.NodeAdminService_BackupServer) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		m, err := Write(pw, s.source(), s.tmpDir)
		_ = pw.CloseWithError(err)
		if err == nil {
			s.logger.Info("backup made", "files", len(m.Files))
		}
		done <- err
	}()
	buf := make([]byte, chunkSize)
	for {
		n, err := io.ReadFull(pr, buf)
		if n > 0 {
			if serr := stream.Send(&accordv1.BackupResponse{Data: buf[:n]}); serr != nil {
				_ = pr.CloseWithError(serr)
				if werr := <-done; werr != nil {
					s.logger.Debug("backup stopped", "err", werr)
				}
				return serr
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return <-done
		}
		if err != nil {
			if werr := <-done; werr != nil {
				return werr
			}
			return err
		}
	}
}
