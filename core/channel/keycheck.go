package channel

import (
	"context"
	"fmt"

	"github.com/neksio/neksio/core/secret"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	entchannel "github.com/neksio/neksio/ent/channel"
)

// SealedWith counts the channels whose sealed credentials box opens, and
// those it cannot. It checks a master key against a database that holds
// secrets but no key fingerprint yet (one from before fingerprints were
// recorded).
func SealedWith(ctx context.Context, s *store.Store, box *secret.Box) (opened, failed int, err error) {
	ctx = tenant.NewContext(ctx, tenant.PlatformViewer("channel.sealedwith"))
	chs, err := s.Ent.Channel.Query().Where(entchannel.CredentialsNotNil()).
		Select(entchannel.FieldID, entchannel.FieldCredentials).All(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("channel: reading sealed credentials: %w", err)
	}
	for _, ch := range chs {
		if len(ch.Credentials) == 0 {
			continue
		}
		if _, err := box.Open(ch.Credentials, aad(ch.ID, "credentials")); err != nil {
			failed++
		} else {
			opened++
		}
	}
	return opened, failed, nil
}
