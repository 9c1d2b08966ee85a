package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// panicky is an argument whose encoding panics, as a bug in a driver
// value or in pgx would.
type panicky struct{}

func (panicky) Value() (driver.Value, error) { panic("valuer panicked") }

// TestPanicWhileSendingHeldBackWrites: a panic while the held-back
// writes are sent reaches InTx's caller like any panic in a transaction,
// and the store stays usable. Before, database/sql's Conn.Raw answered
// the panic by closing the connection, which waited forever for the
// transaction still open on it: the node's committer hung.
func TestPanicWhileSendingHeldBackWrites(t *testing.T) {
	base := os.Getenv("GATEHOUSE_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("GATEHOUSE_TEST_POSTGRES_URL not set")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "gh_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE t (v TEXT UNIQUE)`); err != nil {
		t.Fatal(err)
	}
	s := New(Postgres{}, db, db, false)
	hung := false
	t.Cleanup(func() {
		if !hung { // a hung transaction would block Close
			s.Close()
			admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
			admin.Close()
		}
	})

	ctx := store.WithDeferredWrites(context.Background())
	insert := func(v any) func(q store.Queries) error {
		return func(q store.Queries) error { return q.(*queries).exec(ctx, false, `INSERT INTO t (v) VALUES ($1)`, v) }
	}
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		s.InTx(ctx, insert(panicky{}))
	}()
	select {
	case p := <-recovered:
		if p != "valuer panicked" {
			t.Fatalf("caller recovered %v, want the panic", p)
		}
	case <-time.After(30 * time.Second): // a hang, not a timing: the fix returns at once
		hung = true
		t.Fatal("InTx hung after a panic while its held-back writes were sent")
	}
	for _, v := range []string{"a", "b", "c"} {
		if err := s.InTx(ctx, insert(v)); err != nil {
			t.Fatalf("after the panic: %v", err)
		}
	}
}
