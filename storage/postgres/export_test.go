package postgres

// The listing's statements, for a test that holds them open.
const (
	WorkflowsSQL  = workflowsSQL
	TombstonesSQL = tombstonesSQL
)
