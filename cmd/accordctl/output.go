package main

import (
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/federation/safetext"
)

// globalOptions are the flags every accordctl command shares.
type globalOptions struct {
	configPath string
	output     string
}

func (g *globalOptions) addFlags(root *cobra.Command) {
	root.PersistentFlags().StringVar(&g.configPath, "config", "", "node configuration file (as for accordd); gives this CLI its certificate, key and trust bundle")
	root.PersistentFlags().StringVarP(&g.output, "output", "o", "text", "output format for data: text or json")
	_ = root.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp
	})
}

func (g *globalOptions) validate() error {
	if g.output != "text" && g.output != "json" {
		return fmt.Errorf("--output %q: must be text or json", g.output)
	}
	return nil
}

// JSON reports whether data should be printed as JSON.
func (g *globalOptions) JSON() bool { return g.output == "json" }

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// terminalWriter is how accordctl prints everything (text and JSON, on
// standard output, and errors): a character that a terminal would act on
// (control characters but tab and line feed, DEL, C1, bidirectional
// formatting, line separators: federation/safetext.Escape) is written as
// a visible \uXXXX escape, which is also what it means inside a JSON
// string. Text from another member (titles, places, reasons, registry
// entries) thus cannot clear the screen, colour it, forge a line or hide a
// hyperlink. A character split across two writes is held until the next.
type terminalWriter struct {
	w       io.Writer
	pending []byte
}

// printTo returns w wrapped so that it prints safely; a writer that is
// already wrapped is returned as is.
func printTo(w io.Writer) io.Writer {
	if _, ok := w.(*terminalWriter); ok {
		return w
	}
	return &terminalWriter{w: w}
}

func (t *terminalWriter) Write(p []byte) (int, error) {
	b := append(t.pending, p...)
	t.pending = nil
	// Hold an incomplete last character for the next write.
	if cut := incompleteTail(b); cut > 0 {
		t.pending = append([]byte(nil), b[len(b)-cut:]...)
		b = b[:len(b)-cut]
	}
	if _, err := io.WriteString(t.w, safetext.Escape(string(b), true)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// incompleteTail returns how many bytes at the end of b begin a UTF-8
// character that is not complete yet (0 to 3).
func incompleteTail(b []byte) int {
	for n := 1; n <= 3 && n <= len(b); n++ {
		c := b[len(b)-n]
		if utf8.RuneStart(c) {
			if c >= 0xc0 && !utf8.FullRune(b[len(b)-n:]) {
				return n
			}
			return 0
		}
	}
	return 0
}

// protoOut is the one JSON style of -o json for API messages: the API's
// own JSON mapping (protojson) with the field names of the .proto files
// (case_id, not caseId, as the interchange format writes them), enum
// values by name (JIT_STATE_ACTIVE), times in RFC 3339 and 64-bit integers
// as strings. printProto and protoValue are the only writers of messages.
var protoOut = protojson.MarshalOptions{UseProtoNames: true}

// printProto writes one API message as indented JSON (-o json).
func printProto(w io.Writer, m proto.Message) error {
	return printJSON(w, protoValue(m, false))
}

// protoValue returns a message as a JSON value, to embed in other JSON
// output; all says whether zero fields are written too.
func protoValue(m proto.Message, all bool) json.RawMessage {
	o := protoOut
	o.EmitUnpopulated = all
	b, err := o.Marshal(m)
	if err != nil {
		// Marshal fails only on invalid UTF-8, which the node never
		// stores; say so rather than print half a value.
		b, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	return b
}

// jsonProto embeds a message in encoding/json output.
type jsonProto struct{ m proto.Message }

// MarshalJSON writes the message as protoValue does.
func (j jsonProto) MarshalJSON() ([]byte, error) { return protoValue(j.m, false), nil }

// protoList embeds a list of messages in encoding/json output.
func protoList[M proto.Message](ms []M) []jsonProto {
	out := make([]jsonProto, 0, len(ms))
	for _, m := range ms {
		out = append(out, jsonProto{m})
	}
	return out
}
