package graph

import (
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/graph/model"
)

func settingsModel(s workspace.Settings) *model.WorkspaceSettings {
	return &model.WorkspaceSettings{
		MessageRetentionDays: s.MessageRetentionDays,
		AuditRetentionDays:   s.AuditRetentionDays,
		AiProcessing:         model.AIProcessing(s.AIProcessing),
	}
}
