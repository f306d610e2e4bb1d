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
	// MediaID is the file in Neksio's media store: a reply's attachment,
	// or a customer's once fetched from the platform.
	MediaID string `json:"mediaId,omitempty"`
	// Size in bytes, when known.
	Size int64 `json:"size,omitempty"`
	// Status of fetching a customer's attachment into the media store:
	// PENDING, STORED or FAILED; empty when there is nothing to fetch.
	Status string `json:"status,omitempty"`
	// Error says why the last fetch failed (with PENDING, it is retried).
	Error string `json:"error,omitempty"`
}

// Attachment fetch states.
const (
	AttachmentPending = "PENDING"
	AttachmentStored  = "STORED"
	AttachmentFailed  = "FAILED"
)

// PostMedia is one image or video of a post: an uploaded file of the
// media store (MediaID) or an external public URL.
type PostMedia struct {
	MediaID  string `json:"media_id,omitempty"`
	URL      string `json:"url,omitempty"`
	Kind     string `json:"kind"`
	MimeType string `json:"mime_type,omitempty"`
	// Size in bytes; 0 when unknown (external URLs).
	Size int64 `json:"size,omitempty"`
}
