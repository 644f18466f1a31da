package mtls

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// ErrNotAPath says that a value given where a file or folder path belongs
// looks like key material instead (a PEM block, an age identity): the
// messages that would show the path leave it out.
var ErrNotAPath = errors.New("the value is not a file path (it looks like key material)")

// NotAPath reports whether a value given where a path belongs looks like
// key material rather than a path, so that no message may show it: it holds
// a line break or "-----BEGIN", or an age identity (AGE-SECRET-KEY-), or it
// is too long to be a path. "Too long" is a name between slashes longer
// than 255 bytes (no file system takes one), a value longer than 4096 bytes,
// or a relative value longer than 256 bytes (relative paths are joined to
// the configuration's folder before they are checked, so a long absolute
// value may be a legitimate deep path; a long relative one is not).
func NotAPath(v string) bool {
	if strings.ContainsAny(v, "\r\n") || strings.Contains(v, "-----BEGIN") || strings.Contains(v, "AGE-SECRET-KEY-") {
		return true
	}
	if len(v) > 4096 || (len(v) > 256 && !filepath.IsAbs(v)) {
		return true
	}
	for c := range strings.SplitSeq(v, "/") {
		if len(c) > 255 {
			return true
		}
	}
	return false
}

// readFile is os.ReadFile that does not show a value that is not a path
// in its error.
func readFile(path string) ([]byte, error) {
	if NotAPath(path) {
		return nil, ErrNotAPath
	}
	return os.ReadFile(path)
}
