package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
)

// pgProxy forwards PostgreSQL connections and counts the statements clients
// execute: every simple Query ('Q') and every extended-protocol Execute
// ('E'), attributed to the SQL text of the statement the portal was bound
// from. It lets the benchmark count a server process's queries per GraphQL
// request without pg_stat_statements and without touching its code.
// Clients must not use TLS (sslmode=disable).
type pgProxy struct {
	ln       net.Listener
	upstream string

	mu     sync.Mutex
	counts map[string]int // normalized SQL -> executions
	total  int
	wg     sync.WaitGroup
}

func newPGProxy(upstream string) (*pgProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &pgProxy{ln: ln, upstream: upstream, counts: map[string]int{}}
	p.wg.Go(p.accept)
	return p, nil
}

func (p *pgProxy) addr() string { return p.ln.Addr().String() }

func (p *pgProxy) close() { _ = p.ln.Close(); p.wg.Wait() }

// reset zeroes the counters and returns what they held.
func (p *pgProxy) reset() (total int, byStatement map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	total, byStatement = p.total, p.counts
	p.total, p.counts = 0, map[string]int{}
	return
}

func (p *pgProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(c)
	}
}

func (p *pgProxy) handle(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer server.Close()
	go func() { _, _ = io.Copy(client, server); client.Close() }()
	r := bufio.NewReaderSize(client, 64<<10)
	// The startup message has no type byte.
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return
	}
	n := int(binary.BigEndian.Uint32(hdr[:]))
	if n < 4 {
		return
	}
	startup := make([]byte, n-4)
	if _, err := io.ReadFull(r, startup); err != nil {
		return
	}
	if _, err := server.Write(append(hdr[:], startup...)); err != nil {
		return
	}
	stmts := map[string]string{}   // prepared statement name -> SQL
	portals := map[string]string{} // portal -> SQL
	for {
		var h [5]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(h[1:]))
		if n < 4 {
			return
		}
		body := make([]byte, n-4)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		switch h[0] {
		case 'Q':
			p.count(cstring(body))
		case 'P': // Parse: name, query
			name, rest := cstringRest(body)
			stmts[name] = cstring(rest)
		case 'B': // Bind: portal, statement
			portal, rest := cstringRest(body)
			portals[portal] = stmts[cstring(rest)]
		case 'E': // Execute: portal
			p.count(portals[cstring(body)])
		}
		if _, err := server.Write(append(h[:], body...)); err != nil {
			return
		}
		if h[0] == 'X' {
			return
		}
	}
}

func (p *pgProxy) count(sql string) {
	key := normalizeSQL(sql)
	p.mu.Lock()
	p.counts[key]++
	p.total++
	p.mu.Unlock()
}

func cstring(b []byte) string {
	s, _ := cstringRest(b)
	return s
}

func cstringRest(b []byte) (string, []byte) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return string(b), nil
	}
	return string(b[:i]), b[i+1:]
}

var (
	spaces  = regexp.MustCompile(`\s+`)
	inLists = regexp.MustCompile(`IN \((\$\d+(, )?)+\)`)
)

// normalizeSQL collapses whitespace and parameter lists, so one query shape
// is one key whatever the number of IDs it loads.
func normalizeSQL(s string) string {
	s = spaces.ReplaceAllString(strings.TrimSpace(s), " ")
	s = inLists.ReplaceAllString(s, "IN (...)")
	if s == "" {
		return "(unknown)"
	}
	return s
}
