package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// threadBaselineArg runs the bench binary as the thread's second baseline
// (startThreadBaseline).
const threadBaselineArg = "thread-http-baseline"

// startThreadBaseline runs the thread's second baseline
// (serveThreadBaseline) on dbURL: a hand-written HTTP handler for a
// thread's first page, in a process of its own. It decodes a
// GraphQL-shaped POST body, runs the thread's hand-written SQL through pgx
// and writes the answer Neksio writes, with encoding/json. Against it, a
// thread's ratio is what GraphQL, ent and Neksio's checks cost over a Go
// handler that pays for HTTP and JSON too, which the SQL baseline does
// not.
func startThreadBaseline(e *runEnv, dbURL string) (*childServer, error) {
	return startChild(e, threadBaselineArg, dbURL)
}

// childServer is a baseline server the bench binary runs as a process of
// its own (itself, re-executed with an argument; see main), in its own
// process group so that cpuMeter can count it as a server. The child
// prints its address on its first line.
type childServer struct {
	url  string
	cmd  *exec.Cmd
	done chan struct{}
}

func (b *childServer) pid() int { return b.cmd.Process.Pid }

func (b *childServer) stop() {
	select {
	case <-b.done:
		return
	default:
	}
	_ = b.cmd.Process.Kill()
	<-b.done
}

// serveChild runs this process as the child server args name, if they
// name one (main and the tests' TestMain call it first), and reports
// whether it did.
func serveChild(args []string) bool {
	switch {
	case len(args) > 1 && args[1] == wsBaselineArg:
		serveWSBaseline()
	case len(args) > 2 && args[1] == threadBaselineArg:
		serveThreadBaseline(args[2])
	default:
		return false
	}
	return true
}

// startChild starts the child and reads its address; the child is
// stopped when the current benchmark ends.
func startChild(e *runEnv, args ...string) (*childServer, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b := &childServer{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(b.done) }()
	e.deferBench(b.stop)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("baseline server %s did not start: %w", args[0], err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	b.url = "http://" + strings.TrimSpace(line)
	return b, nil
}

// serveThreadBaseline serves POST /graphql with {"variables": {"id",
// "workspace"}} and prints its address.
func serveThreadBaseline(dbURL string) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, "thread baseline:", err)
		os.Exit(1)
	}
	type message struct {
		ID             string    `json:"id"`
		Text           string    `json:"text"`
		Direction      string    `json:"direction"`
		SentAt         time.Time `json:"sentAt"`
		DeliveryStatus string    `json:"deliveryStatus"`
	}
	type edge struct {
		Node message `json:"node"`
	}
	type answer struct {
		Data struct {
			Node struct {
				Messages struct {
					Edges    []edge `json:"edges"`
					PageInfo struct {
						HasNextPage bool    `json:"hasNextPage"`
						EndCursor   *string `json:"endCursor"`
					} `json:"pageInfo"`
				} `json:"messages"`
			} `json:"node"`
		} `json:"data"`
	}
	http.HandleFunc("POST /graphql", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Variables struct {
				ID        string `json:"id"`
				Workspace string `json:"workspace"`
			} `json:"variables"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rows, err := pool.Query(r.Context(), threadSQL, req.Variables.ID, req.Variables.Workspace)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		var a answer
		edges := make([]edge, 0, 51)
		for rows.Next() {
			var m message
			if err := rows.Scan(&m.ID, &m.Text, &m.Direction, &m.SentAt, &m.DeliveryStatus); err != nil {
				rows.Close()
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			edges = append(edges, edge{m})
		}
		if err := rows.Err(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		page := &a.Data.Node.Messages
		if len(edges) > 50 {
			edges, page.PageInfo.HasNextPage = edges[:50], true
		}
		page.Edges = edges
		if len(edges) > 0 {
			page.PageInfo.EndCursor = &edges[len(edges)-1].Node.ID
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(&a)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "thread baseline:", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second}
	_ = srv.Serve(ln)
}
