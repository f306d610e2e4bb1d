package schema

// RowScan marks a schema whose client gets ScanValues and FromRow
// (ent/template/scan.tmpl): decoding of rows from a statement ent does
// not build, as the client's queries decode them. Only the schemas such
// a statement reads carry it (today Conversation: the ingest's lookup).
type RowScan struct{}

// Name is the annotation's key in the generator's graph.
func (RowScan) Name() string { return "RowScan" }
