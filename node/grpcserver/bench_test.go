package grpcserver_test

import (
	"crypto/tls"
	"io"
	"testing"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
)

// BenchmarkWhoAmI measures a unary RPC through the whole server chain
// (mutual TLS on loopback, recovery, metrics, logging, identity and policy
// interceptors, the handler), from parallel clients on one connection.
func BenchmarkWhoAmI(b *testing.B) {
	fed := pkitest.NewFederation(b, "accord.test", "UA", "PL")
	ts := startServer(b, fed.Node("UA", "ua-1"), nil, nil)
	cc := dial(b, ts.addr, fed.Node("PL", "pl-1"))
	if _, err := whoami(cc); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := whoami(cc); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkHandshake measures a full mutual-TLS 1.3 handshake (both
// certificates verified) against a resumed one (VerifyConnection still runs).
func BenchmarkHandshake(b *testing.B) {
	fed := pkitest.NewFederation(b, "accord.test", "UA", "PL")
	server, err := mtls.NewSource(fed.Node("UA", "ua-1"), mtls.Hooks{}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", server.ServerConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if c.(*tls.Conn).Handshake() == nil {
					_, _ = c.Write([]byte{1})
					_, _ = io.Copy(io.Discard, c)
				}
			}()
		}
	}()
	client, err := mtls.NewSource(fed.Node("PL", "pl-1"), mtls.Hooks{}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, cfg *tls.Config) {
		for i := 0; i < b.N; i++ {
			c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			var one [1]byte
			if _, err := io.ReadFull(c, one[:]); err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	}
	b.Run("full", func(b *testing.B) { run(b, client.ClientConfig(nil)) })
	b.Run("resumed", func(b *testing.B) {
		cfg := client.ClientConfig(nil)
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
		run(b, cfg)
	})
}
