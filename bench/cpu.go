package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Where a benchmark's CPU goes, per process: on two cores the server, its
// connector plugins, PostgreSQL and the load generator share the machine,
// so what one request costs each of them says more than its latency. Read
// from /proc (Linux; elsewhere every figure is 0, and the detail says so).

// clockTick is the unit of /proc/<pid>/stat's CPU times (USER_HZ, 100 on
// every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// procCPU is the CPU time (user and system) process pid has used, and its
// process group; ok is false when it cannot be read (gone, not Linux).
func procCPU(pid int) (cpu time.Duration, pgrp int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// The command name, in parentheses, may hold spaces: fields start
	// after its closing one.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, 0, false
	}
	// f[0] is field 3 (state): pgrp is field 5, utime 14, stime 15.
	pg, _ := strconv.Atoi(f[2])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * clockTick, pg, true
}

// groupCPU is the CPU time used so far by every live process of process
// group pgrp: `neksio serve` runs in a group of its own (startServer), with
// its connector plugins.
func groupCPU(pgrp int) (server, plugins time.Duration) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cpu, pg, ok := procCPU(pid)
		if !ok || pg != pgrp {
			continue
		}
		if pid == pgrp {
			server += cpu
		} else {
			plugins += cpu
		}
	}
	return server, plugins
}

// backendsCPU is the CPU time used so far by the PostgreSQL backends
// connected to dbURL's database (when PostgreSQL runs on this machine),
// by backend.
func backendsCPU(ctx context.Context, dbURL string) map[int]time.Duration {
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	if err != nil {
		return nil
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil
	}
	out := map[int]time.Duration{}
	for _, pid := range pids {
		if cpu, _, ok := procCPU(int(pid)); ok {
			out[int(pid)] = cpu
		}
	}
	return out
}

// cpuMeter adds up, over the rounds of one side of a benchmark, the CPU
// time its processes used: the benchmark's own process (the load
// generator, and the emulator), the PostgreSQL backends of its database,
// and, for Neksio, the server and its plugins.
type cpuMeter struct {
	dbURL  string
	server int // process group of `neksio serve`, 0 for a baseline

	bench, postgres, srv, plugins time.Duration

	// at the start of the current round
	bench0, srv0, plugins0 time.Duration
	pg0                    map[int]time.Duration
}

func (m *cpuMeter) start(ctx context.Context) {
	m.bench0, _, _ = procCPU(os.Getpid())
	m.pg0 = backendsCPU(ctx, m.dbURL)
	if m.server != 0 {
		m.srv0, m.plugins0 = groupCPU(m.server)
	}
}

func (m *cpuMeter) stop(ctx context.Context) {
	b, _, _ := procCPU(os.Getpid())
	m.bench += b - m.bench0
	// A backend that ended during the round is missed (pools keep theirs);
	// one that started counts from 0.
	for pid, cpu := range backendsCPU(ctx, m.dbURL) {
		m.postgres += cpu - m.pg0[pid]
	}
	if m.server != 0 {
		s, p := groupCPU(m.server)
		m.srv += s - m.srv0
		m.plugins += p - m.plugins0
	}
}

// perOperation is the CPU milliseconds per operation (a delivery, a
// request) of each process kind.
func (m *cpuMeter) perOperation(n int) map[string]float64 {
	if n == 0 {
		return nil
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }
	out := map[string]float64{"bench": ms(m.bench), "postgres": ms(m.postgres)}
	if m.server != 0 {
		out["server"] = ms(m.srv)
		out["plugins"] = ms(m.plugins)
	}
	total := 0.0
	for _, v := range out {
		total += v
	}
	out["total"] = total
	return out
}
