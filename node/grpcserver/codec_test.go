package grpcserver

import (
	"strings"
	"testing"

	"google.golang.org/grpc/encoding"
	protoenc "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestRequestCodecDropsUnknownFields: a request decodes with its known
// fields and without the fields the schema does not know, at every depth.
func TestRequestCodecDropsUnknownFields(t *testing.T) {
	unknown := protowire.AppendString(protowire.AppendTag(nil, 99, protowire.BytesType), "Iryna Bondar")
	inc := &accordv1.Incident{Place: "Irpin"}
	inc.ProtoReflect().SetUnknown(unknown)
	c := &accordv1.Case{CaseId: "UA-1", Incidents: []*accordv1.Incident{inc}}
	c.ProtoReflect().SetUnknown(unknown)
	req := &accordv1.CreateCaseRequest{Case: c}
	req.ProtoReflect().SetUnknown(unknown)
	wire, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	codec := requestCodec{proto: encoding.GetCodecV2(protoenc.Name)}
	var got accordv1.CreateCaseRequest
	if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(wire)}, &got); err != nil {
		t.Fatal(err)
	}
	if got.GetCase().GetCaseId() != "UA-1" || got.GetCase().GetIncidents()[0].GetPlace() != "Irpin" {
		t.Fatalf("known fields lost: %v", &got)
	}
	for name, m := range map[string]proto.Message{"request": &got, "case": got.GetCase(), "incident": got.GetCase().GetIncidents()[0]} {
		if u := m.ProtoReflect().GetUnknown(); len(u) > 0 {
			t.Errorf("the %s kept %d bytes of unknown fields", name, len(u))
		}
	}
	// Malformed input is still an error, and responses encode as gRPC's.
	if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer([]byte{0x0a, 0xff})}, &got); err == nil {
		t.Error("a truncated message decoded")
	}
	out, err := codec.Marshal(&accordv1.GetCaseResponse{Case: &accordv1.Case{CaseId: "UA-1"}})
	if err != nil || out.Len() == 0 {
		t.Fatalf("marshal: %d bytes, %v", out.Len(), err)
	}
	if codec.Name() != "proto" {
		t.Errorf("name %q", codec.Name())
	}
}

// TestMaxHeaderListBytesValidated: the header list limit has a default
// and bounds, and its refusal names the field.
func TestMaxHeaderListBytesValidated(t *testing.T) {
	var c Config
	c.Normalize()
	if c.MaxHeaderListBytes != 64<<10 {
		t.Errorf("default max_header_list_bytes %d", c.MaxHeaderListBytes)
	}
	for _, v := range []uint32{100, 32 << 20} {
		c.MaxHeaderListBytes = v
		if err := c.Validate("grpc"); err == nil {
			t.Errorf("max_header_list_bytes %d accepted", v)
		} else if want := "grpc.max_header_list_bytes"; !strings.Contains(err.Error(), want) {
			t.Errorf("%v does not name %s", err, want)
		}
	}
}
