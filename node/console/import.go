package console

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/accordfed/accord/node/importclient"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// importTimeout bounds an import from the console: within the 60 s that
// accordctl console's server gives a request (maxUploadBytes).
const importTimeout = 55 * time.Second

// importPage is the import page's data: the form, and after a POST the
// refusal or the node's result.
type importPage struct {
	MaxBytes            int64
	SkipInvalid, DryRun bool
	// Error refuses the form (naming the field); nothing was imported.
	Error string
	// Result is the node's answer about the file Source.
	Result *importResult
}

// importResult is the node's result as the page shows it.
type importResult struct {
	Source   string
	Res      *accordv1.ImportResult
	Problems []problemRow
	// Unlisted counts the invalid lines an older node did not list.
	Unlisted int64
	// Refused says invalid lines kept anything from being imported (with a
	// dry run: would have).
	Refused  bool
	Withheld []withheldCount
}

// problemRow is a row of the errors table: one kind of error, with the
// node's field and reason as it wrote them.
type problemRow struct {
	// Lines are the lines that have it (the first of them, "3, 7, 12, …"
	// when there are more), Count how many.
	Lines  string
	Count  int64
	Field  string
	Reason string
	// Detail is what the first line holds, "line 3: got …"; empty when
	// the reason says it all.
	Detail string
}

func problemRows(lang string, ps []importclient.Problem) []problemRow {
	var out []problemRow
	for _, p := range ps {
		row := problemRow{Lines: p.LineList(), Count: p.Lines, Field: p.Field, Reason: p.Reason}
		if p.Detail != "" {
			row.Detail = T(lang, "import.detail", p.FirstLines[0], p.Detail)
		}
		out = append(out, row)
	}
	return out
}

// withheldCount is how many words of a shared field are blanked when the
// imported cases are shared.
type withheldCount struct {
	Field string
	Count int64
}

// routeImport registers the import page.
func (s *Server) routeImport(m *http.ServeMux) {
	m.Handle("GET /cases/import", s.page(s.handleImportForm))
	m.Handle("POST /cases/import", s.page(s.handleImport))
}

// handleImportForm shows the form.
func (s *Server) handleImportForm(q *request) error {
	s.renderImport(q, http.StatusOK, importPage{})
	return nil
}

func (s *Server) renderImport(q *request, code int, p importPage) {
	p.MaxBytes = maxUploadBytes
	if code != http.StatusOK {
		q.w.WriteHeader(code)
	}
	s.render(q.w, q.r, "import", q.lang, q.sess, pageData{Title: T(q.lang, "import.title"), Nav: "import", Page: p})
}

// handleImport streams the uploaded file to the node's ImportCases, as
// accordctl cases import does, and shows the result: HTTP 400 when invalid
// lines kept the file from being imported, or the file is missing, empty or
// unreadable; 413 when it is larger than maxUploadBytes. Only a whole file
// that the node accepted is imported.
func (s *Server) handleImport(q *request) error {
	p := importPage{SkipInvalid: q.r.PostFormValue("skip_invalid") != "", DryRun: q.r.PostFormValue("dry_run") != ""}
	f := q.upload
	if f == nil || f.FileName() == "" {
		p.Error = T(q.lang, "import.error.nofile")
		s.renderImport(q, http.StatusBadRequest, p)
		return nil
	}
	ctx, cancelTimeout := context.WithTimeout(q.r.Context(), importTimeout)
	defer cancelTimeout()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stream, err := accordv1.NewCaseServiceClient(q.conn).ImportCases(ctx)
	if err != nil {
		return err
	}
	// The sender fails only when the upload cannot be read (it is cut
	// short, or larger than the bound); it then cancels the stream with
	// that error as the cause, so that the node imports nothing.
	sent := make(chan error, 1)
	go func() {
		_, err := importclient.Send(stream, f, "the uploaded file", &accordv1.ImportOptions{SkipInvalid: p.SkipInvalid, DryRun: p.DryRun, Source: f.FileName()}, nil)
		if err != nil {
			cancel(err)
		}
		sent <- err
	}()
	var res *accordv1.ImportResult
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// The sender stops at its next chunk once the stream is
			// cancelled; it is waited for, as it reads the request's body,
			// which is not to be read after the handler returns.
			cancel(nil)
			if serr := <-sent; serr != nil {
				s.refuseUpload(q, p, serr)
				return nil
			}
			return err
		}
		if r := msg.GetResult(); r != nil {
			res = r
		}
	}
	if err := <-sent; err != nil {
		s.refuseUpload(q, p, err)
		return nil
	}
	if res == nil {
		return errors.New("console: import: the node ended the import without a result")
	}
	if res.GetLines() == 0 {
		p.Error = T(q.lang, "import.error.empty")
		s.renderImport(q, http.StatusBadRequest, p)
		return nil
	}
	r := &importResult{Source: f.FileName(), Res: res, Problems: problemRows(q.lang, importclient.Problems(res)), Unlisted: importclient.Unlisted(res),
		Refused: res.GetInvalid() > 0 && (p.DryRun && !p.SkipInvalid || !p.DryRun && !res.GetWritten())}
	for _, k := range slices.Sorted(maps.Keys(res.GetWithheld())) {
		r.Withheld = append(r.Withheld, withheldCount{k, res.GetWithheld()[k]})
	}
	p.Result = r
	code := http.StatusOK
	if r.Refused {
		code = http.StatusBadRequest
	}
	s.renderImport(q, code, p)
	return nil
}

// refuseUpload answers an upload that could not be read to its end:
// larger than maxUploadBytes (413), or cut short (400).
func (s *Server) refuseUpload(q *request, p importPage, err error) {
	s.logger.Warn("console import: the upload could not be read; nothing was imported", "member", q.sess.member, "account", q.sess.account, "err", err)
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		p.Error = T(q.lang, "import.error.large", number(q.lang, maxUploadBytes>>20))
		s.renderImport(q, http.StatusRequestEntityTooLarge, p)
		return
	}
	p.Error = T(q.lang, "import.error.read")
	s.renderImport(q, http.StatusBadRequest, p)
}
