package milvuslite

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/milvus-io/milvus/client/v2/milvusclient"

	"github.com/neksio/neksio/internal/testenv"
)

// Version is the npm package version the project pins.
const Version = "2.5.102"

// Package is the npm package that ships the Milvus Lite binary.
const Package = "@lyyyuna/milvus-lite-linux-x64"

// EnvDir names the environment variable that points at an installed package
// directory (the one holding lib/milvus), overriding the search.
const EnvDir = "NEKSIO_MILVUS_LITE_DIR"

// InstallHint is the command that installs the binary where Find looks.
const InstallHint = "scripts/install-milvus-lite.sh (npm install --prefix .tools/milvus-lite " + Package + "@" + Version + ")"

// ErrNotInstalled is returned by Find when no binary is found.
var ErrNotInstalled = errors.New("milvuslite: Milvus Lite binary not found; install it with " + InstallHint + " or set " + EnvDir)

// Find returns the package directory holding lib/milvus: $NEKSIO_MILVUS_LITE_DIR
// if set, else .tools/milvus-lite/node_modules/<Package> in the nearest
// directory above the working directory that has a go.mod with it.
func Find() (string, error) {
	if dir := os.Getenv(EnvDir); dir != "" {
		for _, d := range []string{dir, filepath.Join(dir, "node_modules", Package)} {
			if isExecutable(filepath.Join(d, "lib", "milvus")) {
				return d, nil
			}
		}
		return "", fmt.Errorf("%w (%s=%s has no lib/milvus)", ErrNotInstalled, EnvDir, dir)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("milvuslite: %w", err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		pkg := filepath.Join(d, ".tools", "milvus-lite", "node_modules", Package)
		if isExecutable(filepath.Join(pkg, "lib", "milvus")) {
			return pkg, nil
		}
		if filepath.Dir(d) == d {
			return "", ErrNotInstalled
		}
	}
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// Server is a running Milvus Lite process.
type Server struct {
	// Addr is the gRPC address, 127.0.0.1:<port>.
	Addr string

	cmd      *exec.Cmd
	dataDir  string
	tempData bool
	log      *os.File
	done     chan struct{}
	stopOnce sync.Once
	stopErr  error
}

// Options configures Start. The zero value is usable once Find succeeds.
type Options struct {
	// Dir is the package directory holding lib/milvus; Find() if empty.
	Dir string
	// DataDir holds the database file and the server log; a temporary
	// directory, removed by Stop, if empty.
	DataDir string
	// StartTimeout bounds the wait for the server to answer; 60s if zero.
	StartTimeout time.Duration
}

// Start launches Milvus Lite on a free local port and returns once a client
// can connect. Stop it with Stop.
func Start(ctx context.Context, opts Options) (*Server, error) {
	dir := opts.Dir
	if dir == "" {
		var err error
		if dir, err = Find(); err != nil {
			return nil, err
		}
	}
	s := &Server{dataDir: opts.DataDir, done: make(chan struct{})}
	if s.dataDir == "" {
		d, err := os.MkdirTemp("", "milvuslite-")
		if err != nil {
			return nil, fmt.Errorf("milvuslite: %w", err)
		}
		s.dataDir, s.tempData = d, true
	}
	port, err := freePort()
	if err != nil {
		s.cleanup()
		return nil, err
	}
	s.Addr = "127.0.0.1:" + strconv.Itoa(port)
	s.log, err = os.Create(filepath.Join(s.dataDir, "milvus.log"))
	if err != nil {
		s.cleanup()
		return nil, fmt.Errorf("milvuslite: %w", err)
	}
	lib := filepath.Join(dir, "lib")
	s.cmd = exec.Command(filepath.Join(lib, "milvus"), filepath.Join(s.dataDir, "milvus.db"), s.Addr, "ERROR")
	s.cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+lib+prefixed(os.Getenv("LD_LIBRARY_PATH")))
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	// Own process group, so Stop reaches any child the server spawns.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		s.cleanup()
		return nil, fmt.Errorf("milvuslite: start %s: %w", s.cmd.Path, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = time.Minute
	}
	if err := s.waitReady(ctx, timeout); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

func prefixed(path string) string {
	if path == "" {
		return ""
	}
	return ":" + path
}

// waitReady polls until a Milvus client can connect and list collections.
func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		select {
		case <-s.done:
			return fmt.Errorf("milvuslite: server exited during start-up; log: %s", s.tail())
		default:
		}
		last = ping(ctx, s.Addr)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("milvuslite: server at %s not ready after %s: %w; log: %s", s.Addr, timeout, last, s.tail())
		case <-s.done:
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func ping(ctx context.Context, addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	_ = c.Close()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cl, err := milvusclient.New(cctx, &milvusclient.ClientConfig{Address: addr})
	if err != nil {
		return err
	}
	defer cl.Close(context.Background()) //nolint:errcheck // probe client
	_, err = cl.ListCollections(cctx, milvusclient.NewListCollectionOption())
	return err
}

func (s *Server) tail() string {
	b, err := os.ReadFile(filepath.Join(s.dataDir, "milvus.log"))
	if err != nil {
		return "(no log)"
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return "(empty)"
	}
	return string(b)
}

// Stop kills the server's process group, waits for it to exit and removes a
// temporary data directory. It is safe to call more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			pid := s.cmd.Process.Pid
			_ = syscall.Kill(-pid, syscall.SIGTERM)
			select {
			case <-s.done:
			case <-time.After(10 * time.Second):
				_ = syscall.Kill(-pid, syscall.SIGKILL)
				<-s.done
			}
		}
		s.stopErr = s.cleanup()
	})
	return s.stopErr
}

func (s *Server) cleanup() error {
	if s.log != nil {
		_ = s.log.Close()
	}
	if s.tempData {
		return os.RemoveAll(s.dataDir)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("milvuslite: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Available reports whether a binary is installed; when it is not, callers
// in tests should use Require to skip or fail.
func Available() bool {
	_, err := Find()
	return err == nil
}

// Require stops the test when Milvus Lite is not installed: it fails with
// the install command when CI=true (nothing is skipped silently in CI) and
// skips otherwise. It returns the package directory.
func Require(t testing.TB) string {
	t.Helper()
	dir, err := Find()
	if err == nil {
		return dir
	}
	testenv.Unavailable(t, "Milvus Lite (install it with scripts/install-milvus-lite.sh)", err)
	return ""
}

// StartForTest starts a server for the test (see Require for a missing
// binary) and stops it when the test ends.
func StartForTest(t testing.TB) *Server {
	t.Helper()
	dir := Require(t)
	s, err := Start(context.Background(), Options{Dir: dir, DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("start Milvus Lite: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop Milvus Lite: %v", err)
		}
	})
	return s
}
