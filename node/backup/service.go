package backup

import (
	"crypto/sha256"
	"encoding/hex"
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
	enc     Encryption
	logger  *slog.Logger
}

// NewService returns the service of a node of member: source says what to
// back up, tmpDir where to spool, enc to whom to encrypt.
func NewService(source func() Source, tmpDir, member string, isAdmin func(identity.Identity) bool, enc Encryption, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{source: source, tmpDir: tmpDir, member: member, isAdmin: isAdmin, enc: enc, logger: logger}
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

// Backup implements NodeAdminService.Backup: the archive, age-encrypted to
// the recipients of the service's [Encryption] (refused with
// FAILED_PRECONDITION when there are none and unencrypted backups are not
// allowed). The plain archive never leaves the node's process: it is
// encrypted as it is written, in constant memory.
func (s *Service) Backup(_ *accordv1.BackupRequest, stream accordv1.NodeAdminService_BackupServer) error {
	pr, pw := io.Pipe()
	digest := sha256.New()
	rs, err := s.enc.recipients()
	if err != nil {
		s.logger.Warn("backup refused", "err", err)
		return fmt.Errorf("%w: %w", grpcserver.ErrFailedPrecondition, err)
	}
	encrypted := len(rs) > 0
	if !encrypted {
		s.logger.Warn("making an UNENCRYPTED backup (backup.unencrypted is set): the archive holds the office's cases and the node's signing key in clear")
	}
	done := make(chan error, 1)
	go func() {
		var m Manifest
		sealed, err := seal(io.MultiWriter(pw, digest), rs)
		if err == nil {
			m, err = Write(sealed, s.source(), s.tmpDir)
		}
		if err == nil {
			err = sealed.Close()
		}
		_ = pw.CloseWithError(err)
		if err == nil {
			s.logger.Info("backup made", "files", len(m.Files), "encrypted", encrypted, "sha256", hex.EncodeToString(digest.Sum(nil)))
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
