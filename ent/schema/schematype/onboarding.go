package schematype

// AuthorizedAccount is one account an OAuth grant opens, as
// channelAuthorization lists it: no secrets.
type AuthorizedAccount struct {
	ExternalID string `json:"externalId"`
	Name       string `json:"name"`
	Platform   string `json:"platform"`
}
