package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

func newEvidenceCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "evidence",
		Short: "Register evidence items and check files against the office's evidence index",
		Long: `evidence works with the node's evidence index: the office's evidence items,
each with the SHA-256 of its content, its size and where the content is kept
in the office's vault. Content never leaves this machine: accordctl hashes the
files here and sends only the hash, the size and the location. Registering an
item opens its chain of custody (see accordctl custody).`,
		Example: `  accordctl --config ua.yaml evidence add --case UA-2022-004211 /vault/2022/004211/drone.mp4
  accordctl --config ua.yaml evidence verify received/drone.mp4
  accordctl --config ua.yaml evidence verify --id UA-2022-004211-E001`,
	}
	addLocalFlags(cmd)
	cmd.AddCommand(newEvidenceAddCmd(g), newEvidenceVerifyCmd(g), newEvidenceGetCmd(g), newEvidenceFindCmd(g))
	return cmd
}

// hashBufferBytes is the read buffer of hashing: memory stays constant
// whatever the size of the file.
const hashBufferBytes = 1 << 20

// sniffBytes is how much of a file http.DetectContentType looks at.
const sniffBytes = 512

// fileHash is what hashing a file found.
type fileHash struct {
	path   string // absolute
	sha256 string
	size   int64
	head   []byte // the first sniffBytes bytes
}

// hashFile hashes a regular file as a stream, adding the bytes read to prog.
func hashFile(path string, buf []byte, prog *progress) (fileHash, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fileHash{}, err
	}
	f, err := os.Open(abs)
	if err != nil {
		return fileHash{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fileHash{}, err
	}
	if !fi.Mode().IsRegular() {
		return fileHash{}, fmt.Errorf("%s: not a regular file", path)
	}
	h := sha256.New()
	out := fileHash{path: abs}
	for {
		n, err := f.Read(buf)
		if n > 0 {
			h.Write(buf[:n])
			if len(out.head) < sniffBytes {
				out.head = append(out.head, buf[:min(n, sniffBytes-len(out.head))]...)
			}
			out.size += int64(n)
			if prog != nil {
				prog.Add(int64(n))
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fileHash{}, fmt.Errorf("reading %s: %w", path, err)
		}
	}
	out.sha256 = hex.EncodeToString(h.Sum(nil))
	return out, nil
}

// totalSize adds up the sizes of files, for the progress bar (0 when one
// cannot be read: hashing says why).
func totalSize(paths []string) int64 {
	var total int64
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return 0
		}
		total += fi.Size()
	}
	return total
}

// hashFiles hashes every file with one progress bar over their bytes.
func hashFiles(cmd *cobra.Command, paths []string) ([]fileHash, error) {
	prog := newProgress(cmd.ErrOrStderr(), "hashing", "", totalSize(paths))
	defer prog.Done()
	buf := make([]byte, hashBufferBytes)
	out := make([]fileHash, 0, len(paths))
	for _, p := range paths {
		fh, err := hashFile(p, buf, prog)
		if err != nil {
			return nil, err
		}
		out = append(out, fh)
	}
	return out, nil
}

// mediaType chooses an item's media type: the flag, else the file name's
// extension, else a look at the content. Parameters (; charset=utf-8) are
// dropped.
func mediaType(flag, path string, head []byte) string {
	if flag != "" {
		return flag
	}
	if t := mime.TypeByExtension(filepath.Ext(path)); t != "" {
		return bareMediaType(t)
	}
	return bareMediaType(http.DetectContentType(head))
}

func bareMediaType(t string) string {
	if mt, _, err := mime.ParseMediaType(t); err == nil {
		return mt
	}
	t, _, _ = strings.Cut(t, ";")
	return strings.ToLower(strings.TrimSpace(t))
}

// localPath returns the file a location names when it is a local path (an
// absolute path or a file: URI).
func localPath(location string) (string, bool) {
	if strings.HasPrefix(location, "file:") {
		u, err := url.Parse(location)
		if err != nil || (u.Host != "" && u.Host != "localhost") || u.Path == "" {
			return "", false
		}
		return filepath.FromSlash(u.Path), true
	}
	if filepath.IsAbs(location) {
		return location, true
	}
	return "", false
}

// sameFile says whether a recorded location is the file at abs.
func sameFile(location, abs string) bool {
	p, ok := localPath(location)
	if !ok {
		return false
	}
	a, err1 := os.Stat(p)
	b, err2 := os.Stat(abs)
	if err1 == nil && err2 == nil {
		return os.SameFile(a, b)
	}
	return filepath.Clean(p) == filepath.Clean(abs)
}

// ---- add ----

func newEvidenceAddCmd(g *globalOptions) *cobra.Command {
	var (
		caseID, media, collected, description, location string
		allowDuplicate                                  bool
	)
	cmd := &cobra.Command{
		Use:   "add --case CASE_ID FILE...",
		Short: "Register files as evidence items of a case (hashes them here; content is never sent)",
		Long: `add hashes each FILE here (SHA-256, read as a stream: any size, constant
memory, with a progress bar on stderr) and registers it as an evidence item of
the case: the node records the hash, the size, the media type and where the
content is kept (the file's absolute path, or --location for a single file),
and opens the item's chain of custody with a signed "registered" event. The
content itself is never sent.

The media type is --media-type, else the one of the file name's extension,
else what the first 512 bytes look like.

Content the case already holds (the same SHA-256) is refused, naming the item
that holds it; --allow-duplicate registers it again as a new item.`,
		Example: `  accordctl --config ua.yaml evidence add --case UA-2022-004211 /vault/2022/004211/*.jpg
  accordctl --config ua.yaml evidence add --case UA-2022-004211 --collected 2022-04-02 \
      --description "drone footage, north approach" --location s3://vault-ua/2022/004211/drone.mp4 drone.mp4`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if caseID == "" {
				return errors.New("--case: required: the case the items belong to")
			}
			if location != "" && len(args) > 1 {
				return errors.New("--location: names where one file is kept; give one FILE with it")
			}
			lc, err := openLocal(g, cmd)
			if err != nil {
				return err
			}
			defer lc.Close()
			// A mistyped case id is said before hours of hashing.
			if _, err := lc.cases.GetCase(cmd.Context(), &accordv1.GetCaseRequest{CaseId: caseID}); err != nil {
				return lc.rpcError("case "+caseID, err)
			}
			hashes, err := hashFiles(cmd, args)
			if err != nil {
				return err
			}
			type added struct {
				File       string    `json:"file"`
				Item       jsonProto `json:"item"`
				Registered jsonProto `json:"registered"`
			}
			var done []added
			out := cmd.OutOrStdout()
			for i, fh := range hashes {
				loc := fh.path
				if location != "" {
					loc = location
				}
				resp, err := lc.evidence.RegisterEvidence(cmd.Context(), &accordv1.RegisterEvidenceRequest{
					CaseId: caseID, Sha256: fh.sha256, SizeBytes: fh.size, MediaType: mediaType(media, fh.path, fh.head),
					Location: loc, Collected: collected, Description: description, AllowDuplicate: allowDuplicate,
				})
				if err != nil {
					err = lc.rpcError("register "+args[i], duplicateHint(err))
					if len(done) > 0 {
						err = exitError{code: 1, err: fmt.Errorf("%w\n(%d of %d files were registered before this one)", err, len(done), len(args))}
					}
					return err
				}
				done = append(done, added{File: args[i], Item: jsonProto{resp.GetItem()}, Registered: jsonProto{resp.GetRegistered()}})
				if !g.JSON() {
					it, ev := resp.GetItem(), resp.GetRegistered()
					fmt.Fprintf(out, "registered %s  %s\n", it.GetId(), args[i])
					fmt.Fprintf(out, "  sha256 %s  %s  %s\n", it.GetSha256(), formatSize(it.GetSizeBytes()), orDash(it.GetMediaType()))
					fmt.Fprintf(out, "  custody chain opened (event %d, seal %d)\n", ev.GetSeq(), ev.GetSealId())
				}
			}
			if g.JSON() {
				return printJSON(out, done)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&caseID, "case", "", "the case the items belong to (required)")
	f.StringVar(&media, "media-type", "", "IANA media type, e.g. video/mp4 (default: from the file name, else the content)")
	f.StringVar(&collected, "collected", "", "collection date, YYYY-MM-DD")
	f.StringVar(&description, "description", "", "free text")
	f.StringVar(&location, "location", "", "where the content is kept, a path or URI (default: the file's absolute path; one FILE only)")
	f.BoolVar(&allowDuplicate, "allow-duplicate", false, "register content the case already holds (the same SHA-256) again, as a new item")
	_ = cmd.RegisterFlagCompletionFunc("case", completeFromNode(g, "case", false))
	return cmd
}

// duplicateHint names the flag where the node's refusal of content the case
// already holds names the request field.
func duplicateHint(err error) error {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.FailedPrecondition || !strings.Contains(st.Message(), "set allow_duplicate") {
		return err
	}
	msg := strings.TrimPrefix(st.Message(), "duplicate content: ")
	msg = strings.TrimPrefix(msg, "sha256: ")
	return status.Error(st.Code(), strings.Replace(msg, "set allow_duplicate", "use --allow-duplicate", 1))
}

// formatSize writes a size as "12.3 MiB (12,902,400 bytes)".
func formatSize(n int64) string {
	if n < 1024 {
		return formatCount(n) + " bytes"
	}
	return formatBytes(n) + " (" + formatCount(n) + " bytes)"
}

// ---- verify ----

func newEvidenceVerifyCmd(g *globalOptions) *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use:   "verify FILE... | verify --id EVIDENCE_ID",
		Short: "Check whether files are registered evidence, or whether an item's content is unchanged",
		Long: `verify FILE... hashes each file here and asks the node's index for items with
that content: OK with each matching item (its id and case, who registered it
and when, and whether its recorded location is this very file), or NOT IN THE
INDEX when no item has it (a changed file is not in the index).

verify --id EVIDENCE_ID re-hashes the content at the item's recorded location
(it must be a local path) and compares it with the registered hash.

The exit status is 0 when everything checks out and 2 when a file is not in
the index or an item's content no longer matches (or is gone).`,
		Example: `  accordctl --config ua.yaml evidence verify received/drone.mp4 received/photo-0412.jpg
  accordctl --config ua.yaml evidence verify --id UA-2022-004211-E001`,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case id != "" && len(args) > 0:
				return errors.New("verify: give FILE arguments or --id, not both")
			case id == "" && len(args) == 0:
				return errors.New("verify: give one or more FILE arguments, or --id EVIDENCE_ID")
			}
			lc, err := openLocal(g, cmd)
			if err != nil {
				return err
			}
			defer lc.Close()
			if id != "" {
				return verifyItem(cmd, g, lc, id)
			}
			return verifyFiles(cmd, g, lc, args)
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "re-hash this item's recorded location and compare it with the index")
	_ = cmd.RegisterFlagCompletionFunc("id", completeFromNode(g, "evidence", false))
	return cmd
}

func verifyFiles(cmd *cobra.Command, g *globalOptions, lc *localClient, args []string) error {
	hashes, err := hashFiles(cmd, args)
	if err != nil {
		return err
	}
	type match struct {
		Item     jsonProto `json:"item"`
		ThisFile bool      `json:"this_file"`
	}
	type result struct {
		File    string  `json:"file"`
		SHA256  string  `json:"sha256"`
		Size    int64   `json:"size_bytes"`
		Indexed bool    `json:"indexed"`
		Items   []match `json:"items"`
	}
	var results []result
	missing := 0
	out := cmd.OutOrStdout()
	for i, fh := range hashes {
		resp, err := lc.evidence.FindEvidenceByHash(cmd.Context(), &accordv1.FindEvidenceByHashRequest{Sha256: fh.sha256})
		if err != nil {
			return lc.rpcError("find "+args[i], err)
		}
		r := result{File: args[i], SHA256: fh.sha256, Size: fh.size, Indexed: len(resp.GetItems()) > 0, Items: []match{}}
		for _, it := range resp.GetItems() {
			r.Items = append(r.Items, match{Item: jsonProto{it}, ThisFile: sameFile(it.GetLocation(), fh.path)})
		}
		results = append(results, r)
		if !r.Indexed {
			missing++
		}
		if g.JSON() {
			continue
		}
		if !r.Indexed {
			fmt.Fprintf(out, "NOT IN THE INDEX  %s  sha256 %s\n", args[i], fh.sha256)
			continue
		}
		fmt.Fprintf(out, "OK  %s  sha256 %s\n", args[i], fh.sha256)
		for j, it := range resp.GetItems() {
			where := "recorded location: this file"
			if !r.Items[j].ThisFile {
				where = "recorded location: " + orDash(it.GetLocation())
			}
			fmt.Fprintf(out, "    %s  case %s  registered by %s at %s  %s\n", it.GetId(), it.GetCaseId(), orDash(it.GetRegisteredBy()), formatTime(it.GetRegisterTime()), where)
		}
	}
	if g.JSON() {
		if err := printJSON(out, results); err != nil {
			return err
		}
	}
	if missing > 0 {
		return exitError{code: 2, err: fmt.Errorf("%d of %d files are not in the evidence index", missing, len(hashes))}
	}
	return nil
}

func verifyItem(cmd *cobra.Command, g *globalOptions, lc *localClient, id string) error {
	resp, err := lc.evidence.GetEvidence(cmd.Context(), &accordv1.GetEvidenceRequest{Id: id})
	if err != nil {
		return lc.rpcError("get evidence "+id, err)
	}
	it := resp.GetItem()
	path, ok := localPath(it.GetLocation())
	if !ok {
		return exitError{code: 1, err: fmt.Errorf("%s: recorded location %q is not a local path; verify the content where it is kept (accordctl evidence verify FILE)", id, it.GetLocation())}
	}
	type result struct {
		ID         string `json:"evidence_id"`
		Location   string `json:"location"`
		Registered string `json:"registered_sha256"`
		SHA256     string `json:"sha256,omitempty"`
		Size       int64  `json:"size_bytes"`
		Matches    bool   `json:"matches"`
		Problem    string `json:"problem,omitempty"`
	}
	r := result{ID: id, Location: path, Registered: it.GetSha256()}
	buf := make([]byte, hashBufferBytes)
	prog := newProgress(cmd.ErrOrStderr(), "hashing", "", totalSize([]string{path}))
	fh, err := hashFile(path, buf, prog)
	prog.Done()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.Problem = fmt.Sprintf("content at %s is gone: %v", path, err)
	case err != nil:
		return exitError{code: 1, err: fmt.Errorf("%s: %w", id, err)}
	default:
		r.SHA256, r.Size, r.Matches = fh.sha256, fh.size, fh.sha256 == it.GetSha256()
		if !r.Matches {
			r.Problem = fmt.Sprintf("content at %s no longer matches the registered hash (registered %s, now %s", path, it.GetSha256(), fh.sha256)
			if it.GetSizeBytes() > 0 && it.GetSizeBytes() != fh.size {
				r.Problem += fmt.Sprintf("; size was %s, now %s", formatCount(it.GetSizeBytes()), formatCount(fh.size))
			}
			r.Problem += ")"
		}
	}
	out := cmd.OutOrStdout()
	if g.JSON() {
		if err := printJSON(out, r); err != nil {
			return err
		}
	} else if r.Matches {
		fmt.Fprintf(out, "OK  %s  content at %s matches the registered hash (sha256 %s, %s)\n", id, path, r.SHA256, formatSize(r.Size))
	} else {
		fmt.Fprintf(out, "CHANGED  %s  %s\n", id, r.Problem)
	}
	if !r.Matches {
		return exitError{code: 2, err: fmt.Errorf("%s: %s", id, r.Problem)}
	}
	return nil
}

// ---- get, find ----

func newEvidenceGetCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "get EVIDENCE_ID",
		Short: "Show one evidence item",
		Long: `get shows an evidence item of the index: its case, hash, size, media type,
collection date, description, where its content is kept, and who registered it
when.`,
		Example: `  accordctl --config ua.yaml evidence get UA-2022-004211-E001
  accordctl --config ua.yaml evidence get UA-2022-004211-E001 -o json`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeEvidenceIDs(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			lc, err := openLocal(g, cmd)
			if err != nil {
				return err
			}
			defer lc.Close()
			resp, err := lc.evidence.GetEvidence(cmd.Context(), &accordv1.GetEvidenceRequest{Id: args[0]})
			if err != nil {
				return lc.rpcError("get evidence "+args[0], err)
			}
			if g.JSON() {
				return printProto(cmd.OutOrStdout(), resp.GetItem())
			}
			printItem(cmd.OutOrStdout(), resp.GetItem())
			return nil
		},
	}
}

func printItem(w io.Writer, it *accordv1.EvidenceItem) {
	fmt.Fprintln(w, it.GetId())
	row := func(k, v string) { fmt.Fprintf(w, "  %-13s %s\n", k+":", v) }
	row("case", it.GetCaseId())
	row("sha256", it.GetSha256())
	size := "unknown"
	if it.GetSizeBytes() > 0 {
		size = formatSize(it.GetSizeBytes())
	}
	row("size", size)
	row("media type", orDash(it.GetMediaType()))
	row("collected", orDash(it.GetCollected()))
	row("description", orDash(it.GetDescription()))
	row("location", orDash(it.GetLocation()))
	row("registered", formatTime(it.GetRegisterTime())+" by "+orDash(it.GetRegisteredBy()))
}

func newEvidenceFindCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "find SHA256",
		Short: "List the evidence items whose content has this SHA-256",
		Long: `find lists the items of the index whose content has the given SHA-256 (64 hex
digits), possibly of several cases. To check a file, evidence verify FILE
hashes it for you.`,
		Example: `  accordctl --config ua.yaml evidence find 3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sum := strings.ToLower(strings.TrimSpace(args[0]))
			if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
				return fmt.Errorf("SHA256 %q: must be 64 hex digits", args[0])
			}
			lc, err := openLocal(g, cmd)
			if err != nil {
				return err
			}
			defer lc.Close()
			resp, err := lc.evidence.FindEvidenceByHash(cmd.Context(), &accordv1.FindEvidenceByHashRequest{Sha256: sum})
			if err != nil {
				return lc.rpcError("find", err)
			}
			out := cmd.OutOrStdout()
			if g.JSON() {
				return printJSON(out, protoValue(resp, true))
			}
			if len(resp.GetItems()) == 0 {
				fmt.Fprintf(out, "no evidence item has sha256 %s\n", sum)
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "EVIDENCE ID\tCASE\tSIZE\tMEDIA TYPE\tREGISTERED\tLOCATION")
			for _, it := range resp.GetItems() {
				size := "-"
				if it.GetSizeBytes() > 0 {
					size = formatBytes(it.GetSizeBytes())
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", it.GetId(), it.GetCaseId(), size, orDash(it.GetMediaType()), formatTime(it.GetRegisterTime()), orDash(it.GetLocation()))
			}
			return tw.Flush()
		},
	}
}
