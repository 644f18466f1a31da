package backup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"filippo.io/age"
)

// Errors of encrypted backups. Each is wrapped with %w and a message that
// says what to do.
var (
	// ErrNoRecipients is wrapped when a backup is asked for and the node
	// has no recipients to encrypt it to (backup.recipients,
	// backup.recipients_file) and unencrypted backups are not allowed
	// (backup.unencrypted). Nothing is written.
	ErrNoRecipients = errors.New("no backup recipients")
	// ErrIdentityRequired is wrapped by [Restore] when the archive is
	// encrypted and no identity was given. Nothing is changed.
	ErrIdentityRequired = errors.New("the backup is encrypted: an identity is required")
	// ErrWrongKey is wrapped by [Restore] when none of the identities
	// given opens the archive: it was encrypted to other recipients.
	// Nothing is changed.
	ErrWrongKey = errors.New("wrong key for the backup")
)

// ageMagic opens every age file (its header's version line).
const ageMagic = "age-encryption.org/v1\n"

// IsEncrypted reports whether data, the first bytes of an archive (at least
// 22), is age-encrypted.
func IsEncrypted(data []byte) bool { return bytes.HasPrefix(data, []byte(ageMagic)) }

// Encryption says how a [Service] encrypts the backups it makes.
type Encryption struct {
	// Recipients returns the age recipients to encrypt each backup to. It
	// is called for every backup (a changed recipients file applies to the
	// next one); nil means none.
	Recipients func() ([]age.Recipient, error)
	// Unencrypted allows a plain archive when there are no recipients.
	Unencrypted bool
}

// recipients returns the recipients to encrypt the next backup to; none
// when unencrypted backups are allowed and there are none. It fails with
// [ErrNoRecipients] when there are none and they are not allowed.
func (e Encryption) recipients() ([]age.Recipient, error) {
	var rs []age.Recipient
	if e.Recipients != nil {
		var err error
		if rs, err = e.Recipients(); err != nil {
			return nil, err
		}
	}
	if len(rs) == 0 && !e.Unencrypted {
		return nil, fmt.Errorf("%w: the node encrypts its backups to the office's age recipients, and none is configured: set backup.recipients (or backup.recipients_file; accordctl backup keygen makes a key pair), or backup.unencrypted: true to allow unencrypted backups", ErrNoRecipients)
	}
	return rs, nil
}

// seal returns the writer a backup is written through: age encryption to
// rs, or w itself when rs is empty. Closing it ends the encrypted stream
// (it does not close w). It writes age's header to w at once.
func seal(w io.Writer, rs []age.Recipient) (io.WriteCloser, error) {
	if len(rs) == 0 {
		return nopCloser{w}, nil
	}
	return age.Encrypt(w, rs...)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// open returns the plain archive read from r: decrypted with ids when it
// is age-encrypted. The error wraps [ErrIdentityRequired], [ErrWrongKey]
// or [ErrInvalid] (not an age file although identities were given, or a
// damaged header). Decryption is streaming: each 64 KiB chunk is
// authenticated as it is read, and a damaged or cut chunk is an error of
// the returned reader's Read.
func open(r io.Reader, ids []age.Identity) (io.Reader, bool, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(len(ageMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, err
	}
	if !IsEncrypted(head) {
		if len(ids) > 0 {
			return nil, false, fmt.Errorf("%w: not an age-encrypted file, although an identity was given: not a backup made by this version, or not a backup at all", ErrInvalid)
		}
		return br, false, nil
	}
	if len(ids) == 0 {
		return nil, true, fmt.Errorf("%w: give the office's backup identity file (--identity)", ErrIdentityRequired)
	}
	pr, err := age.Decrypt(br, ids...)
	if err != nil {
		if _, ok := errors.AsType[*age.NoIdentityMatchError](err); ok {
			return nil, true, fmt.Errorf("%w: none of the identities given opens it (it was encrypted to other recipients): %w", ErrWrongKey, err)
		}
		return nil, true, fmt.Errorf("%w: damaged age header: %w", ErrInvalid, err)
	}
	return pr, true, nil
}

// ReadIdentities reads an age identity file (as written by [WriteIdentity]
// or age-keygen: "AGE-SECRET-KEY-1..." lines, "#" comments).
func ReadIdentities(path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("%s: not an age identity file: %w", path, err)
	}
	return ids, nil
}

// WriteIdentity makes a new X25519 key pair for the office's backups and
// writes its identity (the private key) to path, mode 0600, in age-keygen's
// format; it refuses a path that exists. It returns the recipient (the
// public key, "age1..."), to put in backup.recipients.
func WriteIdentity(path string, now time.Time) (string, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	rcpt := id.Recipient().String()
	_, err = fmt.Fprintf(f, "# created: %s\n# public key: %s\n%s\n", now.UTC().Format(time.RFC3339), rcpt, id.String())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return "", err
	}
	return rcpt, nil
}
