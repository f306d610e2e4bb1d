package privacy_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/privacy"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/vector"
	"github.com/neksio/neksio/core/vector/milvuslite"
	"github.com/neksio/neksio/ent/schema/pulid"
)

// TestVectorsOnMilvus: erasure and purge reach Milvus as they reach the
// embedded store (Milvus Lite; skipped without it unless CI=true).
func TestVectorsOnMilvus(t *testing.T) {
	srv := milvuslite.StartForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	m, err := vector.NewMilvus(ctx, vector.MilvusConfig{Address: srv.Addr, CollectionPrefix: "p" + hex.EncodeToString(b) + "_"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	bd := setupWith(t, storetest.SQLite, m)
	a := seed(t, bd, "v1")
	other := seed(t, bd, "v2")
	require.True(t, vectorDocs(t, bd, a.ws)[a.alice.contact])

	_, err = bd.svc.EraseContact(ownerCtx(a.ws), pulid.ID(a.alice.contact))
	require.NoError(t, err)
	docs := vectorDocs(t, bd, a.ws)
	require.False(t, docs[a.alice.contact], "the contact's vectors are gone from Milvus")
	require.True(t, docs[a.bob.contact])

	_, err = bd.svc.DeleteWorkspace(ownerCtx(a.ws), "Shop v1")
	require.NoError(t, err)
	bd.clock.Add(privacy.DefaultGrace + time.Minute)
	purged, err := bd.svc.PurgeWorkspace(context.Background(), a.ws)
	require.NoError(t, err)
	require.True(t, purged)
	require.Empty(t, vectorDocs(t, bd, a.ws), "no vector of the workspace is left in Milvus")
	require.NotEmpty(t, vectorDocs(t, bd, other.ws))
}
