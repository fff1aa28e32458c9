package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// MigrateTo applies the migrations up to version last to the database at
// url, as a release that stopped there left it.
func MigrateTo(ctx context.Context, url string, last int) error {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	_, err = migrateTo(ctx, pool, last)
	return err
}

// VacuumRuns returns how many vacuums of the log s completed.
func VacuumRuns(s *Store) int64 { return s.vacuum.runs.Load() }

// VacuumAfter is the trimmed rows that start a vacuum.
const VacuumAfter = vacuumAfter

// The listing's statements, for a test that holds them open.
const (
	WorkflowsSQL  = workflowsSQL
	TombstonesSQL = tombstonesSQL
)
