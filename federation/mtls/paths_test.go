package mtls_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
)

const pemKey = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oA4h9LEBGbeuoAoGCCqGSM49\n-----END EC PRIVATE KEY-----"

func TestNotAPath(t *testing.T) {
	long := strings.Repeat("A", 300)
	for _, tc := range []struct {
		v    string
		want bool
	}{
		{"/etc/accord/node.key", false},
		{"certs/node.pem", false},
		{"/" + strings.Repeat("deep/", 80) + "node.pem", false}, // a long but real absolute path
		{pemKey, true},
		{"line\nbreak", true},
		{"AGE-SECRET-KEY-1QYQSZQGPQYQSZQGP", true},
		{"/etc/accord/AGE-SECRET-KEY-1QYQSZQGPQYQSZQGP", true}, // joined to the file's folder
		{long, true},                             // relative and longer than 256 bytes
		{"/etc/" + long, true},                   // a name no file system takes
		{"/" + strings.Repeat("a/", 2100), true}, // longer than PATH_MAX
	} {
		if got := mtls.NotAPath(tc.v); got != tc.want {
			t.Errorf("NotAPath(%.40q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

// A key pasted where its path belongs is not printed back by Validate nor
// by NewSource, and is not joined to the configuration's folder.
func TestKeyMaterialForAPathIsNotShown(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	c := fed.Node("UA", "ua-1")
	c.KeyFile = pemKey
	c.Normalize(t.TempDir())
	if c.KeyFile != pemKey {
		t.Errorf("Normalize joined key material to the folder: %q", c.KeyFile)
	}
	err := c.Validate("tls")
	if err == nil || !errors.Is(err, mtls.ErrNotAPath) || !strings.Contains(err.Error(), "tls.key_file: the value is not a file path (it looks like key material)") {
		t.Errorf("Validate: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "MHcCAQEE") {
		t.Errorf("Validate prints the key: %v", err)
	}
	_, err = mtls.NewSource(c, mtls.Hooks{}, nil, nil)
	if err == nil || strings.Contains(err.Error(), "MHcCAQEE") || mtls.ReloadFailureReason(err) != "key_file" {
		t.Errorf("NewSource: %v", err)
	}
	c = fed.Node("UA", "ua-1")
	c.CRLDir = filepath.Join(t.TempDir(), "AGE-SECRET-KEY-1QYQSZQGPQYQSZQGP")
	if _, err := mtls.NewSource(c, mtls.Hooks{}, nil, nil); err == nil || strings.Contains(err.Error(), "AGE-SECRET-KEY-") {
		t.Errorf("NewSource with an identity as crl_dir: %v", err)
	}
}
