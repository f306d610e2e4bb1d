package graph

import (
	"context"
	"strings"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/team"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/apikey"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/graph/model"
)

// aiAgentName names the AI agent as an author.
const aiAgentName = "AI agent"

func toMember(m team.Member) *model.Member {
	return &model.Member{ID: m.User.ID, Email: m.User.Email, Name: m.User.Name, Role: apikey.Role(m.Membership.Role),
		JoinedAt: m.Membership.CreatedAt, User: m.User}
}

// actor resolves an actor string ("user:usr_…", "apikey:key_…") to the
// member or key, nil for anyone this workspace cannot see any more (a
// member who left, a deleted key) and for system actors.
func (r *Resolver) actor(ctx context.Context, actor string) (model.Author, error) {
	kind, id, ok := strings.Cut(actor, ":")
	if !ok || id == "" {
		return nil, nil
	}
	switch kind {
	case "user":
		m, err := r.deps.Team.Member(ctx, pulid.ID(id))
		if apperr.CodeOf(err) == apperr.CodeNotFound {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return toMember(m), nil
	case "apikey":
		k, err := r.deps.Store.Ent.APIKey.Get(ctx, pulid.ID(id))
		if ent.IsNotFound(err) {
			return nil, nil
		}
		return k, err
	}
	return nil, nil
}
