package daemon_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/accordfed/accord/federation/mtls"
)

// soak returns how long a scenario runs: short in CI, or the duration in
// ACCORD_SOAK (a Go duration such as 10m) when it is set.
func soak(t testing.TB, short time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv("ACCORD_SOAK")
	if v == "" {
		return short
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("ACCORD_SOAK=%q: want a positive Go duration such as 10m", v)
	}
	return d
}

// dialWith returns a client connection to addr with creds, closed at the
// end of the test.
func dialWith(t testing.TB, addr string, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// honestCreds are the credentials of a well-behaved client with cfg's
// certificate that expects a node of member on the other side.
func honestCreds(t testing.TB, cfg mtls.Config, member string) credentials.TransportCredentials {
	t.Helper()
	src, err := mtls.NewSource(cfg, mtls.Hooks{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return src.ClientCredentials(mtls.ExpectMember(member))
}

// presentAnyway returns client credentials that present cfg's certificate,
// whatever it is, and do not check the server: an attacker's client, for
// certificates an honest node would not even load.
func presentAnyway(t testing.TB, cfg mtls.Config) credentials.TransportCredentials {
	t.Helper()
	return credentials.NewTLS(attackerTLS(t, cfg))
}

// attackerTLS is the TLS configuration of such a client (h2 offered).
func attackerTLS(t testing.TB, cfg mtls.Config) *tls.Config {
	t.Helper()
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS13,
		NextProtos:         []string{"h2"},
		InsecureSkipVerify: true, //nolint:gosec // the attacker does not care who the server is
	}
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	return tc
}

// rawMsg is a message sent and received as the bytes on the wire.
type rawMsg struct{ b []byte }

// rawCodec sends rawMsg bytes as they are, under the content-subtype of
// protobuf: the server decodes them as the method's request.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.(*rawMsg).b)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	v.(*rawMsg).b = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

// rawUnary calls a unary method with request bytes as they are.
func rawUnary(ctx context.Context, cc *grpc.ClientConn, method string, req []byte) error {
	return cc.Invoke(ctx, method, &rawMsg{b: req}, &rawMsg{}, grpc.ForceCodecV2(rawCodec{}))
}

// rawServerStream calls a server-streaming method with request bytes as
// they are and returns the error of the first receive.
func rawServerStream(ctx context.Context, cc *grpc.ClientConn, method string, req []byte) error {
	s, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, method, grpc.ForceCodecV2(rawCodec{}))
	if err != nil {
		return err
	}
	if err := s.SendMsg(&rawMsg{b: req}); err != nil {
		return err
	}
	if err := s.CloseSend(); err != nil {
		return err
	}
	return s.RecvMsg(&rawMsg{})
}

// pbString appends field num as a length-delimited string, without any
// check of its bytes.
func pbString(b []byte, num protowire.Number, s string) []byte {
	return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), s)
}

// pbMessage appends field num as an embedded message.
func pbMessage(b []byte, num protowire.Number, msg []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), msg)
}

// scrapeMetric returns the value of the metric line that starts with
// series (name and labels in the exposition's order), or 0 when there is
// none.
func scrapeMetric(t testing.TB, addr, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("metric %s: %v", series, err)
			}
			return v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return 0
}

// refusedSeries is the series of the TLS refusals of a reason on the
// server side.
func refusedSeries(reason string) string {
	return fmt.Sprintf(`accord_tls_peer_refused_total{reason=%q,side="server"}`, reason)
}
