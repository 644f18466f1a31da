package console

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
)

// maxUploadBytes bounds a multipart POST's body, its file included (a
// variable so that tests can lower it): 32 MiB, about 27,000 cases of the
// interchange format (some 1.2 KB a case). The upload and the import must
// both fit in the 60 s that accordctl console's server gives a request
// (its read and write timeouts; importTimeout): a node imports 17,000
// cases/s on a quiet machine (docs/BENCHMARKS.md), but 60 MiB (52,000
// cases) took 32 s through this page on a loaded two-core machine, too
// close to the bound. Larger registers go through accordctl cases import,
// which streams a file of any size.
var maxUploadBytes int64 = 32 << 20

// Bounds of a multipart POST's other fields.
const (
	// maxFieldBytes bounds one field other than the file (a CSRF token, a
	// check box).
	maxFieldBytes = 4 << 10
	// maxFields bounds the fields before the file.
	maxFields = 16
	// formFile is the name of a multipart form's file field. It is the
	// form's last field, so that the fields, the CSRF token among them,
	// are read and checked before any of the file is.
	formFile = "file"
)

// errFields is readFields' refusal of a form that is not the console's.
var errFields = errors.New("console: the form's fields are not the console's")

// isMultipart reports whether a request's body is multipart/form-data.
func isMultipart(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "multipart/form-data"
}

// readFields reads a multipart POST's fields up to its file (formFile) into
// r.PostForm and r.Form, and returns the file's part unread (nil when the
// form has none): the file is streamed by the handler, never held whole
// in memory or spooled to disk as ParseMultipartForm would. The body is
// capped at maxUploadBytes: reading past it fails with an
// *http.MaxBytesError.
func readFields(w http.ResponseWriter, r *http.Request) (*multipart.Part, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxUploadBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, err
	}
	r.PostForm, r.Form = url.Values{}, r.URL.Query()
	for i := 0; ; i++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if p.FormName() == formFile {
			return p, nil
		}
		if i >= maxFields {
			return nil, fmt.Errorf("%w: more than %d fields before the file", errFields, maxFields)
		}
		b, err := io.ReadAll(io.LimitReader(p, maxFieldBytes+1))
		if err != nil {
			return nil, err
		}
		if len(b) > maxFieldBytes {
			return nil, fmt.Errorf("%w: field %q is longer than %d bytes", errFields, p.FormName(), maxFieldBytes)
		}
		r.PostForm.Add(p.FormName(), string(b))
		r.Form.Add(p.FormName(), string(b))
	}
}
