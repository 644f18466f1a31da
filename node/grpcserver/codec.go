package grpcserver

import (
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// requestCodec is the server's protobuf codec. It decodes requests like
// gRPC's own codec, except that it drops fields the server's schema does not
// know (a newer or a hostile client's): an unknown field is never stored,
// signed or passed on to other members, where it could carry personal data
// past every check, and where the receivers' verification would refuse the
// record it travels in. Responses are encoded by gRPC's codec unchanged.
type requestCodec struct {
	proto encoding.CodecV2
}

func (c requestCodec) Marshal(v any) (mem.BufferSlice, error) { return c.proto.Marshal(v) }

func (c requestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return c.proto.Unmarshal(data, v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	// proto.Unmarshal copies what it keeps: buf may be reused afterwards.
	return proto.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(buf.ReadOnlyData(), m)
}

func (c requestCodec) Name() string { return c.proto.Name() }
