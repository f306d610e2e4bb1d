package vector_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/vector"
)

func TestNewMilvusRejectsBadConfig(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, cfg := range map[string]vector.MilvusConfig{
		"no address":  {},
		"prefix":      {Address: "127.0.0.1:1", CollectionPrefix: "9-bad"},
		"consistency": {Address: "127.0.0.1:1", Consistency: "psychic"},
		"index":       {Address: "127.0.0.1:1", IndexType: "DISKANN_PLUS"},
	} {
		_, err := vector.NewMilvus(ctx, cfg)
		require.Error(t, err, name)
	}
}

func TestMilvusCollectionName(t *testing.T) {
	t.Parallel()
	a := vector.MilvusCollectionName("neksio_", vector.Space{Model: "text-embedding-3-small", Dimension: 1536})
	require.True(t, strings.HasPrefix(a, "neksio_text_embedding_3_small_1536_"), a)
	// Models that reduce to the same characters still get their own collection.
	b := vector.MilvusCollectionName("neksio_", vector.Space{Model: "text_embedding_3_small", Dimension: 1536})
	require.NotEqual(t, a, b)
	long := vector.MilvusCollectionName("neksio_", vector.Space{Model: strings.Repeat("x", 250), Dimension: 8})
	require.LessOrEqual(t, len(long), 255)
}

// TestMilvusPartitionKeyOption checks the option that Milvus Lite cannot
// serve: creating the collection works, and a filtered search fails there
// (DESIGN 7). If a newer Lite starts supporting it, this test says so.
func TestMilvusPartitionKeyOption(t *testing.T) {
	t.Parallel()
	m := newMilvus(t, vector.MilvusConfig{CollectionPrefix: "pk" + randHex(4) + "_", UsePartitionKey: true})
	ctx := context.Background()
	require.NoError(t, m.Upsert(ctx, space8, []vector.Record{{ID: "c1", WorkspaceID: "w1", DocumentID: "d", Vector: unit(8, 0)}}))
	hits, err := m.Search(ctx, space8, "w1", unit(8, 0), 5, vector.Filter{})
	if err != nil {
		t.Logf("partition-key search on Milvus Lite fails as documented: %v", err)
		return
	}
	require.Equal(t, []string{"c1"}, hitIDs(hits))
	t.Log("partition-key search works on this Milvus Lite; the option could default on")
}
