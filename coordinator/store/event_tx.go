package store

import (
	"context"
	"database/sql"
)

// AppendEventTx is AppendEvent inside the caller's transaction, so that an
// event and the state change it reports commit together.
func (s *Store) AppendEventTx(ctx context.Context, tx *sql.Tx, e Event) error {
	return s.appendEvent(ctx, tx, e)
}
