// Package schematype holds the Go types stored in JSON columns.
package schematype

// Attachment is media or a structured payload attached to a message.
type Attachment struct {
	Type       string `json:"type"`
	URL        string `json:"url,omitempty"`
	MimeType   string `json:"mimeType,omitempty"`
	Caption    string `json:"caption,omitempty"`
	ExternalID string `json:"externalId,omitempty"`
	Name       string `json:"name,omitempty"`
}
