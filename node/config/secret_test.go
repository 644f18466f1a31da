package config_test

import (
	"strings"
	"testing"

	"github.com/accordfed/accord/node/config"
)

const (
	testPEMKey   = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oA4h9LEBGbeuoAoGCCqGSM49\n-----END EC PRIVATE KEY-----"
	testKeyLine  = "MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oA4h9LEBGbeuoAoGCCqGSM49"
	testIdentity = "AGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQS3290GG"
)

func checkOutput(path string, environ []string) (string, []*config.Problem) {
	probs := config.Check(path, environ)
	var out []string
	for _, p := range probs {
		out = append(out, p.Where())
	}
	return strings.Join(out, "\n"), probs
}

// A secret given where a path is expected (the key's PEM in
// ACCORD_TLS_KEY_FILE, an age identity pasted as recipients_file or as a
// scalar recipients) is not printed back by accordd config check or the
// node's start-up error; the problem still names the field, and one that
// comes from the environment is attributed to the variable.
func TestConfigCheckDoesNotEchoSecrets(t *testing.T) {
	path := writeConfig(t, "backup:\n  recipients_file: "+testIdentity+"\n")
	all, probs := checkOutput(path, []string{"ACCORD_TLS_KEY_FILE=" + testPEMKey})
	t.Logf("accordd config check prints:\n%s", all)
	if strings.Contains(all, testKeyLine) {
		t.Error("the private key given in ACCORD_TLS_KEY_FILE is printed")
	}
	if strings.Contains(all, "AGE-SECRET-KEY-") {
		t.Error("the age identity given as backup.recipients_file is printed")
	}
	var keyProb, recipProb *config.Problem
	for _, p := range probs {
		switch p.Field {
		case "environment variable ACCORD_TLS_KEY_FILE (tls.key_file)":
			keyProb = p
		case "backup.recipients_file":
			recipProb = p
		}
	}
	const notAPath = "the value is not a file path (it looks like key material)"
	if keyProb == nil || keyProb.File != "" || keyProb.Reason != notAPath {
		t.Errorf("tls.key_file from the environment: %+v", keyProb)
	}
	if recipProb == nil || recipProb.File != path || recipProb.Line != 2 || recipProb.Reason != notAPath {
		t.Errorf("backup.recipients_file: %+v", recipProb)
	}
	// A scalar for a list: the value of a key field is not quoted, not
	// even its beginning.
	for _, body := range []string{
		"backup:\n  recipients: " + testIdentity + "\n",
		"client:\n  key_file: [a, b]\n",
		"log:\n  level: [" + testIdentity + "]\n",
	} {
		all, probs := checkOutput(writeConfig(t, body), nil)
		if len(probs) == 0 || strings.Contains(all, testIdentity[:20]) {
			t.Errorf("%q: %s", body, all)
		}
	}
	all, _ = checkOutput(writeConfig(t, "backup:\n  recipients: "+testIdentity+"\n"), nil)
	if !strings.Contains(all, "backup.recipients: a list (- item on its own line, or [a, b]) (got a text, not shown)") {
		t.Errorf("the wrong type is not named: %s", all)
	}
	// Other fields keep their value in the message.
	all, _ = checkOutput(writeConfig(t, "shutdown_timeout: soon\n"), nil)
	if !strings.Contains(all, `"soon"`) {
		t.Errorf("a plain value is no longer shown: %s", all)
	}
}

// An environment variable that does not parse is named with its value
// only when the value is short and on one line.
func TestEnvErrorsQuoteShortValuesOnly(t *testing.T) {
	for _, tc := range []struct {
		val, want, notWant string
	}{
		{"soon", `environment variable ACCORD_SHUTDOWN_TIMEOUT: "soon": not a duration`, ""},
		{testPEMKey, "environment variable ACCORD_SHUTDOWN_TIMEOUT: the value (", testKeyLine},
		{strings.Repeat("9", 100), "the value (100 bytes, not shown)", "9999999999"},
	} {
		_, err := config.Load("", []string{"ACCORD_SHUTDOWN_TIMEOUT=" + tc.val})
		if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.notWant != "" && strings.Contains(err.Error(), tc.notWant)) {
			t.Errorf("%.20q: %v", tc.val, err)
		}
	}
	// A problem of a field the environment sets is the variable's, also
	// from a file's check.
	path := writeConfig(t, "log:\n  level: info\n")
	_, probs := checkOutput(path, []string{"ACCORD_LOG_LEVEL=loud"})
	found := false
	for _, p := range probs {
		if strings.Contains(p.Field, "log.level") {
			found = true
			if p.File != "" || p.Field != "environment variable ACCORD_LOG_LEVEL (log.level)" {
				t.Errorf("log.level from the environment attributed to %q %q", p.File, p.Field)
			}
		}
	}
	if !found {
		t.Error("no problem for ACCORD_LOG_LEVEL=loud")
	}
}
