package gateway

// OpenAPIDocumentForTest returns the document the gateway serves.
func OpenAPIDocumentForTest(g *Gateway) []byte { return g.openapi }
