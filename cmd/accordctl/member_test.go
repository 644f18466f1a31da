package main

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/trust"
	"github.com/accordfed/accord/node/daemon/daemontest"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestMemberAndNodeCommands admits FR with accordctl member propose and
// vote, as the admins of a three-member federation would, and registers
// and removes a node with accordctl node.
func TestMemberAndNodeCommands(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE", "FR")
	nodes, _ := daemontest.StartFederation(t, fed, nil, "UA", "PL", "DE")
	analyst, admin := map[string]*regMember{}, map[string]*regMember{}
	for _, n := range nodes {
		analyst[n.Member] = &regMember{code: n.Member, d: n.D, analyst: writeClientConfig(t, fed.User(n.Member, "analyst"))}
		admin[n.Member] = &regMember{code: n.Member, d: n.D, analyst: writeClientConfig(t, fed.User(n.Member, "admin"))}
	}
	// What FR hands over: its CA certificate, as certs ca create wrote it.
	caDir := t.TempDir()
	caFile := filepath.Join(caDir, "ca.crt")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fed.CAs["FR"].Cert.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}

	// An analyst may not propose.
	_, err := analyst["UA"].ctl(t, "member", "propose", "--code", "FR", "--name", "Parquet national antiterroriste", "--ca-cert", caFile)
	wantExit(t, err, 1, "PermissionDenied", "admin")
	// Bad input is refused before anything is sent.
	_, err = admin["UA"].ctl(t, "member", "propose", "--code", "fr", "--name", "x", "--ca-cert", caFile)
	wantExit(t, err, 1, `--code "fr"`)
	nodeCert := fed.Node("UA", "ua-9").CertFile
	_, err = admin["UA"].ctl(t, "member", "propose", "--code", "FR", "--name", "x", "--ca-cert", nodeCert)
	wantExit(t, err, 1, "not a CA certificate")

	out := admin["UA"].must(t, "member", "propose", "--code", "FR", "--name", "Parquet national antiterroriste", "--ca-cert", caDir, "--request-id", "propose-fr")
	wantIn(t, "member propose", out, "member FR proposed", "request id: propose-fr")
	// The CA folder and the file are the same certificate: a retry with
	// the same request id is answered as the first time.
	admin["UA"].must(t, "member", "propose", "--code", "FR", "--name", "Parquet national antiterroriste", "--ca-cert", caFile, "--request-id", "propose-fr")

	proposed := analyst["PL"].must(t, "member", "list", "--status", "proposed", "-o", "json")
	var list accordv1.ListMembersResponse
	if err := protojson.Unmarshal([]byte(proposed), &list); err != nil {
		t.Fatalf("%v:\n%s", err, proposed)
	}
	if len(list.GetMembers()) != 1 || list.GetMembers()[0].GetName() != "members/FR" || !strings.Contains(proposed, `"MEMBER_STATUS_PROPOSED"`) || !strings.Contains(proposed, `"display_name"`) {
		t.Fatalf("proposed members:\n%s", proposed)
	}

	// What FR's office tells each voter over a second channel (certs ca
	// create prints it), and what member show prints for the CA the
	// proposer registered: the voter compares the two.
	frFP, err := trust.CASetFingerprint([]string{string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fed.CAs["FR"].Cert.Raw}))})
	if err != nil {
		t.Fatal(err)
	}
	wantIn(t, "member show FR (proposed)", analyst["PL"].must(t, "member", "show", "FR"), "CA fingerprint", frFP, "SHA-256 "+trust.Fingerprint(fed.CAs["FR"].Cert))

	_, err = admin["PL"].ctl(t, "member", "vote", "FR")
	wantExit(t, err, 1, "--approve or --reject")
	// An approval needs the fingerprint; a wrong one is refused by the
	// registry (the proposer registered another CA than the candidate's).
	_, err = admin["PL"].ctl(t, "member", "vote", "FR", "--approve")
	wantExit(t, err, 1, "--approve needs --ca-fingerprint")
	_, err = admin["PL"].ctl(t, "member", "vote", "FR", "--approve", "--ca-fingerprint", "12ab")
	wantExit(t, err, 1, "must be 64 hex digits")
	otherFP, _ := trust.CASetFingerprint([]string{string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fed.CAs["DE"].Cert.Raw}))})
	_, err = admin["PL"].ctl(t, "member", "vote", "FR", "--approve", "--ca-fingerprint", otherFP)
	wantExit(t, err, 1, "FailedPrecondition", "does not match the CA certificates proposed for FR")
	out = admin["PL"].must(t, "member", "vote", "FR", "--approve", "--ca-fingerprint", strings.ToUpper(frFP))
	wantIn(t, "first vote", out, "member FR is proposed (1 for, 0 against)")
	out = admin["DE"].must(t, "member", "vote", "FR", "--approve", "--ca-fingerprint", frFP, "-o", "json")
	var vote accordv1.VoteMemberResponse
	if err := protojson.Unmarshal([]byte(out), &vote); err != nil || vote.GetMember().GetStatus() != accordv1.MemberStatus_MEMBER_STATUS_ADMITTED {
		t.Fatalf("second vote: %v\n%s", err, out)
	}

	show := analyst["UA"].must(t, "member", "show", "FR")
	wantIn(t, "member show FR", show, "FR  Parquet national antiterroriste", "admitted", "certificate authorities (1)", "admission votes (2)", "PL for", "DE for")
	// The older names still work.
	wantIn(t, "registry members", analyst["UA"].must(t, "registry", "members"), "FR", "admitted", "Parquet national antiterroriste")

	// Nodes: UA's admin registers a second node, lists it and removes it.
	_, err = analyst["UA"].ctl(t, "node", "register", "ua-2", "--federation-address", "127.0.0.1:7999")
	wantExit(t, err, 1, "PermissionDenied")
	_, err = admin["UA"].ctl(t, "node", "register", "ua-2", "--federation-address", "127.0.0.1:0")
	wantExit(t, err, 1, "InvalidArgument", "node.federation_address")
	out = admin["UA"].must(t, "node", "register", "ua-2", "--federation-address", "127.0.0.1:7999")
	wantIn(t, "node register", out, "spiffe://accord.test/member/UA/node/ua-2 registered at 127.0.0.1:7999")
	out = analyst["PL"].must(t, "node", "list", "--member", "UA")
	wantIn(t, "node list", out, "/member/UA/node/ua-1", "/member/UA/node/ua-2", "127.0.0.1:7999")
	var nl accordv1.ListNodesResponse
	if err := protojson.Unmarshal([]byte(analyst["PL"].must(t, "node", "list", "-o", "json")), &nl); err != nil || len(nl.GetNodes()) != 4 {
		t.Fatalf("every node: %v %v", nl.GetNodes(), err)
	}
	out = admin["UA"].must(t, "node", "remove", "ua-2")
	wantIn(t, "node remove", out, "node ua-2 removed; member UA has 1 nodes")

	// peers check --all checks the other admitted members' registered
	// nodes; the configuration lists no peers.
	node, user := fed.Node("UA", "ua-1"), fed.User("UA", "analyst")
	cfg := filepath.Join(t.TempDir(), "ua.yaml")
	body := "tls:\n  cert_file: " + node.CertFile + "\n  key_file: " + node.KeyFile + "\n  bundle_file: " + node.BundleFile + "\n  crl_dir: " + node.CRLDir +
		"\nclient:\n  cert_file: " + user.CertFile + "\n  key_file: " + user.KeyFile + "\nlocal_api:\n  listen: " + nodes[0].D.LocalAddr() + "\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out = certsMustRun(t, "--config", cfg, "peers", "check", "--all", "--rounds", "1")
	for _, n := range nodes[1:] {
		wantIn(t, "peers check --all", out, "OK   "+n.D.Addr(), "/member/"+n.Member+"/node/")
	}
}

// TestMemberHelp checks that the help of each command says who may run it
// and shows an example.
func TestMemberHelp(t *testing.T) {
	for _, args := range [][]string{
		{"member", "propose"}, {"member", "vote"}, {"member", "suspend"}, {"node", "register"}, {"node", "remove"},
	} {
		root := newRootCmd()
		cmd, _, err := root.Find(args)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(cmd.Short, "(admin)") || !strings.Contains(cmd.Long, "Admin only") || !strings.Contains(cmd.Example, "accordctl ") {
			t.Errorf("%v: help does not say it is admin only, or has no example:\n%s\n%s", args, cmd.Short, cmd.Long)
		}
	}
	root := newRootCmd()
	cmd, _, _ := root.Find([]string{"member"})
	if !strings.Contains(cmd.Long, "Adding a member") || !strings.Contains(cmd.Long, "member propose") {
		t.Errorf("member help lacks the steps of adding a member:\n%s", cmd.Long)
	}
}
