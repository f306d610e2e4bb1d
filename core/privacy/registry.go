package privacy

import (
	"fmt"
	"sort"

	"entgo.io/ent/dialect/sql/schema"

	"github.com/neksio/neksio/ent/migrate"
)

// Scope says how a table's rows belong to a workspace.
type Scope int

const (
	// Tenant tables carry a workspace_id column.
	Tenant Scope = iota + 1
	// Join tables (many-to-many edges) carry no workspace column; their
	// rows go with the tenant rows they reference.
	Join
	// WorkspaceRoot is the workspaces table itself.
	WorkspaceRoot
	// Members are people (users) and their sessions: shared between the
	// workspaces a person belongs to. A workspace's purge removes the
	// people who belong to no other workspace; an export holds the
	// members without secrets.
	Members
	// Platform tables hold nothing of any workspace (e.g. the master
	// key's fingerprint): excluded from every operation, with a reason.
	Platform
)

// Rule is how the privacy engine treats one table.
type Rule struct {
	Scope Scope
	// Secret columns never leave the database in an export (hashes,
	// sealed tokens, grants). A test checks every field ent marks
	// Sensitive is listed.
	Secret []string
	// NoExport leaves the table out of exports entirely (with Reason).
	NoExport bool
	Reason   string
}

// Tables is the registry: every table of the ent schema must be here. A
// new table fails TestRegistryCoversSchema until it is added.
var Tables = map[string]Rule{
	"workspaces": {Scope: WorkspaceRoot},
	"api_keys":   {Scope: Tenant, Secret: []string{"hash"}},
	"agent_runs": {Scope: Tenant},
	"analytics_rollups": {Scope: Tenant, NoExport: true,
		Reason: "hourly counts derived from the exported tables (neksio analytics rebuild recomputes them)"},
	"analytics_histograms": {Scope: Tenant, NoExport: true,
		Reason: "counts of response and resolution times per bucket, derived from the exported messages and audit entries"},
	"analytics_watermarks": {Scope: Tenant, NoExport: true,
		Reason: "how far the rollup job has come: bookkeeping, no customer data"},
	"agent_settings":         {Scope: Tenant},
	"audit_logs":             {Scope: Tenant},
	"canned_replies":         {Scope: Tenant},
	"channels":               {Scope: Tenant, Secret: []string{"credentials", "app_secret", "verify_token", "sync_cursor"}},
	"channel_authorizations": {Scope: Tenant, Secret: []string{"state_hash", "grant"}},
	"contacts":               {Scope: Tenant},
	"conversations":          {Scope: Tenant},
	"exports":                {Scope: Tenant, Secret: []string{"storage_key"}},
	"invites":                {Scope: Tenant, Secret: []string{"hash"}},
	"knowledge_chunks":       {Scope: Tenant},
	"knowledge_documents":    {Scope: Tenant},
	"labels":                 {Scope: Tenant},
	"label_conversations":    {Scope: Join},
	"media":                  {Scope: Tenant, Secret: []string{"storage_key"}},
	"memberships":            {Scope: Tenant},
	"messages":               {Scope: Tenant},
	"pending_status":         {Scope: Tenant},
	"posts":                  {Scope: Tenant},
	"post_events":            {Scope: Tenant},
	"post_targets":           {Scope: Tenant},
	"publishing_settings":    {Scope: Tenant},
	"users":                  {Scope: Members, Secret: []string{"password_hash"}},
	"sessions": {Scope: Members, NoExport: true,
		Reason: "sign-in sessions are credentials: a purge removes those of people left without a workspace, an export holds none"},
	"key_fingerprints": {Scope: Platform, NoExport: true,
		Reason: "the master key's fingerprint belongs to the installation, not to a workspace"},
}

// table is one table of the schema with its rule.
type table struct {
	*schema.Table
	Rule
}

func (t table) has(column string) bool {
	for _, c := range t.Columns {
		if c.Name == column {
			return true
		}
	}
	return false
}

func (t table) secret(column string) bool {
	for _, s := range t.Secret {
		if s == column {
			return true
		}
	}
	return false
}

// graph is the schema ordered children first: a table comes before every
// table its foreign keys reference, so deleting in this order never
// breaks a key.
type graph struct {
	order  []table
	byName map[string]table
}

var schemaGraph = mustGraph(migrate.Tables)

func mustGraph(ts []*schema.Table) *graph {
	g, err := newGraph(ts)
	if err != nil {
		panic(err)
	}
	return g
}

func newGraph(ts []*schema.Table) (*graph, error) {
	g := &graph{byName: map[string]table{}}
	var missing []string
	for _, t := range ts {
		r, ok := Tables[t.Name]
		if !ok {
			missing = append(missing, t.Name)
			continue
		}
		g.byName[t.Name] = table{Table: t, Rule: r}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("privacy: tables not in the registry (core/privacy Tables): %v", missing)
	}
	names := make([]string, 0, len(g.byName))
	for n := range g.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	// Children first: visit a table after every table referencing it.
	referencedBy := map[string][]string{}
	for _, n := range names {
		for _, fk := range g.byName[n].ForeignKeys {
			if fk.RefTable.Name != n {
				referencedBy[fk.RefTable.Name] = append(referencedBy[fk.RefTable.Name], n)
			}
		}
	}
	state := map[string]int{}
	var visit func(n string) error
	visit = func(n string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("privacy: foreign key cycle through %s", n)
		case 2:
			return nil
		}
		state[n] = 1
		children := referencedBy[n]
		sort.Strings(children)
		for _, c := range children {
			if err := visit(c); err != nil {
				return err
			}
		}
		state[n] = 2
		g.order = append(g.order, g.byName[n])
		return nil
	}
	for _, n := range names {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	return g, nil
}

type schemaTable = schema.Table
