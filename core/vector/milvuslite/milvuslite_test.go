package milvuslite_test

import (
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/vector/milvuslite"
)

func TestStartStop(t *testing.T) {
	t.Parallel()
	s := milvuslite.StartForTest(t)
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	require.NoError(t, err, "server answers once Start returns")
	require.NoError(t, c.Close())

	require.NoError(t, s.Stop())
	require.NoError(t, s.Stop(), "Stop is idempotent")
	_, err = net.DialTimeout("tcp", s.Addr, time.Second)
	require.Error(t, err, "port is closed after Stop")
}

func TestFindHonoursEnv(t *testing.T) {
	// Not parallel: it sets an environment variable.
	t.Setenv(milvuslite.EnvDir, t.TempDir())
	_, err := milvuslite.Find()
	require.ErrorIs(t, err, milvuslite.ErrNotInstalled)
	require.Contains(t, err.Error(), "install-milvus-lite.sh")

	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(dir+"/lib", 0o755))
	require.NoError(t, os.WriteFile(dir+"/lib/milvus", []byte("#!/bin/sh\n"), 0o755))
	t.Setenv(milvuslite.EnvDir, dir)
	got, err := milvuslite.Find()
	require.NoError(t, err)
	require.Equal(t, dir, got)
}
