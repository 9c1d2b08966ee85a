package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const consumerCols = `kind, destination_id, organization_id, event_names, cursor_pos, state, lease_owner, lease_until,
	attempts, next_attempt_at, failing_since, last_error_code, last_error_message, last_error_at, last_success_at,
	parked_at, created_at, updated_at`

func scanConsumer(s rowScanner) (store.Consumer, error) {
	var c store.Consumer
	var names string
	var lease, next, failing, errAt, okAt, parked, created, updated int64
	err := s.Scan(&c.Kind, &c.DestinationID, &c.OrganizationID, &names, &c.Cursor, &c.State, &c.LeaseOwner, &lease,
		&c.Attempts, &next, &failing, &c.LastErrorCode, &c.LastErrorMessage, &errAt, &okAt, &parked, &created, &updated)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(names), &c.EventNames); err != nil {
		return c, fmt.Errorf("consumer %s/%s event names: %w", c.Kind, c.DestinationID, err)
	}
	c.LeaseUntil, c.NextAttemptAt, c.FailingSince = optTime(lease), optTime(next), optTime(failing)
	c.LastErrorAt, c.LastSuccessAt, c.ParkedAt = optTime(errAt), optTime(okAt), optTime(parked)
	c.CreatedAt, c.UpdatedAt = store.FromMillis(created), store.FromMillis(updated)
	return c, nil
}

// optTime is the inverse of optMillis: 0 is the zero time.
func optTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return store.FromMillis(ms)
}

func namesJSON(names []string) string {
	if names == nil {
		names = []string{}
	}
	b, _ := json.Marshal(names)
	return string(b)
}

// PutConsumer implements store.Deliveries. A new consumer's cursor is the
// largest Seq given: since events are numbered in commit order (AppendEvent),
// every event committed later gets a larger Seq and will be delivered.
func (q *queries) PutConsumer(ctx context.Context, c store.Consumer) error {
	now := store.Millis(c.UpdatedAt)
	return q.exec(ctx, false, `INSERT INTO delivery_consumers (kind, destination_id, organization_id, event_names, cursor_pos,
		state, created_at, updated_at)
		VALUES ($1, $2, $3, $4, (SELECT COALESCE(MAX(pos), 0) FROM events), $5, $6, $6)
		ON CONFLICT (kind, destination_id) DO UPDATE SET organization_id = excluded.organization_id,
			event_names = excluded.event_names, state = excluded.state, checked_seq = CASE WHEN delivery_consumers.checked_seq < 0 THEN delivery_consumers.checked_seq ELSE 0 END, updated_at = excluded.updated_at`,
		c.Kind, c.DestinationID, c.OrganizationID, namesJSON(c.EventNames), c.State, now)
}

// GetConsumer implements store.Deliveries.
func (q *queries) GetConsumer(ctx context.Context, kind, destinationID string) (store.Consumer, error) {
	c, err := scanConsumer(q.r.QueryRowContext(ctx, `SELECT `+consumerCols+` FROM delivery_consumers
		WHERE kind = $1 AND destination_id = $2`, kind, destinationID))
	return c, notFound(err)
}

// DeleteConsumer implements store.Deliveries.
func (q *queries) DeleteConsumer(ctx context.Context, kind, destinationID string) error {
	return q.exec(ctx, true, `DELETE FROM delivery_consumers WHERE kind = $1 AND destination_id = $2`, kind, destinationID)
}

// ClaimConsumers implements store.Deliveries: the compare-and-set of
// claimDue, on the lease instead of a due time. A candidate is claimed only
// if its lease, cursor and retry time are still the ones read, so of
// several nodes racing for it exactly one wins, and the winner starts from
// the cursor as it is.
func (q *queries) ClaimConsumers(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]store.Consumer, error) {
	q.settle(ctx) // compare with the outbox's head as of now
	rows, err := q.r.QueryContext(ctx, `SELECT `+consumerCols+` FROM delivery_consumers
		WHERE state = 'active' AND next_attempt_at <= $1 AND lease_until <= $1
			AND checked_seq < (SELECT COALESCE(MAX(pos), 0) FROM events)
		ORDER BY next_attempt_at, last_success_at LIMIT $2`, store.Millis(now), limit)
	if err != nil {
		return nil, err
	}
	var candidates []store.Consumer
	for rows.Next() {
		c, err := scanConsumer(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		candidates = append(candidates, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var claimed []store.Consumer
	for _, c := range candidates {
		// The lease alone is not enough to compare: another node may have
		// claimed, delivered and released meanwhile, leaving the same empty
		// lease but a later cursor (ABA). The cursor and the retry time
		// must also still be the ones read.
		res, err := q.w.ExecContext(ctx, `UPDATE delivery_consumers SET lease_owner = $1, lease_until = $2,
			checked_seq = CASE WHEN checked_seq < 0 THEN 0 ELSE checked_seq END
			WHERE kind = $3 AND destination_id = $4 AND state = 'active' AND lease_owner = $5 AND lease_until = $6
			AND cursor_pos = $7 AND next_attempt_at = $8`,
			owner, store.Millis(leaseUntil), c.Kind, c.DestinationID, c.LeaseOwner, optMillis(c.LeaseUntil),
			c.Cursor, optMillis(c.NextAttemptAt))
		if err != nil {
			return claimed, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			c.LeaseOwner, c.LeaseUntil = owner, leaseUntil
			claimed = append(claimed, c)
		}
	}
	return claimed, nil
}

// RenewConsumerLease implements store.Deliveries.
func (q *queries) RenewConsumerLease(ctx context.Context, kind, destinationID, owner string, until time.Time) error {
	return q.exec(ctx, true, `UPDATE delivery_consumers SET lease_until = $1
		WHERE kind = $2 AND destination_id = $3 AND lease_owner = $4 AND lease_until > 0`,
		store.Millis(until), kind, destinationID, owner)
}

// ReleaseConsumer implements store.Deliveries.
func (q *queries) ReleaseConsumer(ctx context.Context, kind, destinationID, owner string) error {
	return q.exec(ctx, false, `UPDATE delivery_consumers SET lease_owner = '', lease_until = 0
		WHERE kind = $1 AND destination_id = $2 AND lease_owner = $3`, kind, destinationID, owner)
}

// MarkConsumerChecked implements store.Deliveries.
func (q *queries) MarkConsumerChecked(ctx context.Context, kind, destinationID, owner string, cursor, seq int64) error {
	return q.exec(ctx, true, `UPDATE delivery_consumers SET checked_seq = $1
		WHERE kind = $2 AND destination_id = $3 AND lease_owner = $4 AND lease_until > 0 AND cursor_pos = $5
		AND checked_seq >= 0`,
		seq, kind, destinationID, owner, cursor)
}

// AdvanceConsumer implements store.Deliveries.
func (q *queries) AdvanceConsumer(ctx context.Context, kind, destinationID, owner string, from, to int64, now time.Time) error {
	return q.exec(ctx, true, `UPDATE delivery_consumers SET cursor_pos = $1, attempts = 0, failing_since = 0,
		next_attempt_at = 0, last_success_at = $2, updated_at = $2
		WHERE kind = $3 AND destination_id = $4 AND lease_owner = $5 AND lease_until > 0 AND cursor_pos = $6
		AND checked_seq >= 0`,
		to, store.Millis(now), kind, destinationID, owner, from)
}

// CommitLazily implements store.Deliveries.
func (q *queries) CommitLazily(ctx context.Context) error {
	if _, pg := q.d.(Postgres); !pg || !q.inTx {
		return nil
	}
	return q.exec(ctx, false, `SET LOCAL synchronous_commit TO OFF`)
}

// RecordConsumerFailure implements store.Deliveries.
func (q *queries) RecordConsumerFailure(ctx context.Context, kind, destinationID, owner string, f store.ConsumerFailure) (bool, error) {
	at := store.Millis(f.At)
	err := q.exec(ctx, true, `UPDATE delivery_consumers SET attempts = attempts + 1, next_attempt_at = $1,
		failing_since = CASE WHEN failing_since = 0 THEN $2 ELSE failing_since END,
		last_error_code = $3, last_error_message = $4, last_error_at = $2, updated_at = $2
		WHERE kind = $5 AND destination_id = $6 AND lease_owner = $7 AND lease_until > 0`,
		store.Millis(f.NextAttemptAt), at, f.Code, f.Message, kind, destinationID, owner)
	if err != nil || f.ParkIfFailingBefore.IsZero() {
		return false, err
	}
	res, err := q.w.ExecContext(ctx, `UPDATE delivery_consumers SET state = 'parked', parked_at = $1
		WHERE kind = $2 AND destination_id = $3 AND state = 'active' AND failing_since > 0 AND failing_since < $4`,
		at, kind, destinationID, store.Millis(f.ParkIfFailingBefore))
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// SetConsumerState implements store.Deliveries.
func (q *queries) SetConsumerState(ctx context.Context, kind, destinationID, state string, now time.Time) error {
	switch state {
	case store.ConsumerActive:
		return q.exec(ctx, true, `UPDATE delivery_consumers SET state = $1, attempts = 0, failing_since = 0,
			next_attempt_at = 0, parked_at = 0, checked_seq = CASE WHEN checked_seq < 0 THEN checked_seq ELSE 0 END, updated_at = $2 WHERE kind = $3 AND destination_id = $4`,
			state, store.Millis(now), kind, destinationID)
	case store.ConsumerParked:
		return q.exec(ctx, true, `UPDATE delivery_consumers SET state = $1, parked_at = $2, updated_at = $2
			WHERE kind = $3 AND destination_id = $4`, state, store.Millis(now), kind, destinationID)
	default:
		return q.exec(ctx, true, `UPDATE delivery_consumers SET state = $1, updated_at = $2
			WHERE kind = $3 AND destination_id = $4`, state, store.Millis(now), kind, destinationID)
	}
}

// RewindConsumer implements store.Deliveries. created_at is only roughly
// ordered with positions (clocks of several nodes, commit order), so the
// cursor goes to just before the smallest position created at or after
// since: every such event is delivered again, plus perhaps a few older ones.
func (q *queries) RewindConsumer(ctx context.Context, kind, destinationID string, since, now time.Time) error {
	var first sql.NullInt64
	if err := q.w.QueryRowContext(ctx, `SELECT MIN(pos) FROM events WHERE created_at >= $1`, store.Millis(since)).Scan(&first); err != nil {
		return fmt.Errorf("rewind: %w", err)
	}
	if !first.Valid {
		// Nothing that recent: there is nothing to deliver again.
		_, err := q.GetConsumer(ctx, kind, destinationID)
		return err
	}
	// checked_seq = -1 marks the rewind until the next claim: the lease
	// holder's advance or mark fails even when the cursor did not move
	// (it was before since, with a batch of later events in flight).
	return q.exec(ctx, true, `UPDATE delivery_consumers SET cursor_pos = CASE WHEN cursor_pos < $1 THEN cursor_pos ELSE $1 END,
		next_attempt_at = 0, checked_seq = -1, updated_at = $2 WHERE kind = $3 AND destination_id = $4`,
		first.Int64-1, store.Millis(now), kind, destinationID)
}
