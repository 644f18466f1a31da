package gateway

import (
	"encoding/json"
	"fmt"

	gw "github.com/accordfed/accord/proto/gateway/accord/v1"
)

// openAPIDocument is the generated OpenAPI document with the node's own
// information: the generator takes the title of the first .proto file and
// knows no version.
func openAPIDocument(version string) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(gw.OpenAPI, &doc); err != nil {
		return nil, fmt.Errorf("gateway: the embedded OpenAPI document: %w", err)
	}
	if version == "" {
		version = "devel"
	}
	doc["info"] = map[string]any{
		"title":   "Accord local API",
		"version": version,
		"description": "The office's own API on its Accord node, as JSON over HTTPS " +
			"(the same API as gRPC, package accord.v1). Every request needs the client " +
			"certificate of a user of the node's own member (mutual TLS); the API " +
			"authorises it as it does a gRPC call. Errors are the gRPC status as JSON " +
			"(code, message, details) with the HTTP status of its code. See docs/api.md.",
	}
	doc["schemes"] = []string{"https"}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("gateway: the OpenAPI document: %w", err)
	}
	return append(out, '\n'), nil
}
