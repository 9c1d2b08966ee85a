package sqlstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/id"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/postgres"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
)

// TestDeferredWritesOnPostgres: under store.WithDeferredWrites a plain
// insert is held back (so a duplicate is not reported by its own call),
// the batch runs before the next read, and a transaction whose batch
// failed never commits, even when fn ignores every error it is given.
func TestDeferredWritesOnPostgres(t *testing.T) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC().Truncate(time.Millisecond)
	o := store.Organization{ID: id.New("org"), Name: "A", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateOrganization(ctx, o); err != nil {
		t.Fatal(err)
	}
	d := store.Directory{ID: id.New("directory"), OrganizationID: o.ID, Type: "azure scim v2.0", Name: "D", State: store.DirectoryLinked,
		CreatedAt: now, UpdatedAt: now}
	if err := s.CreateDirectory(ctx, d); err != nil {
		t.Fatal(err)
	}
	user := func(name string) store.DirectoryUser {
		return store.DirectoryUser{ID: id.New("directory_user"), DirectoryID: d.ID, OrganizationID: o.ID, IdPID: name, UserName: name,
			State: store.UserActive, Attributes: json.RawMessage(`{}`), CreatedAt: now, UpdatedAt: now}
	}
	if err := s.CreateDirectoryUser(ctx, user("taken")); err != nil {
		t.Fatal(err)
	}

	first, dup := user("first"), user("taken")
	ev := id.New("event")
	var dupErr, readErr error
	err = s.InTx(store.WithDeferredWrites(ctx), func(q store.Queries) error {
		q.CreateDirectoryUser(ctx, first)
		dupErr = q.CreateDirectoryUser(ctx, dup)
		q.AppendEvent(ctx, store.Event{ID: ev, Name: "dsync.user.created", Data: []byte(`{}`), CreatedAt: now})
		_, readErr = q.GetDirectoryUser(ctx, d.ID, first.ID, false)
		return nil // as if fn made nothing of the errors
	})
	if dupErr != nil {
		t.Errorf("the duplicate's own call returned %v; want it held back (nil)", dupErr)
	}
	if readErr == nil {
		t.Errorf("the read after the failed batch succeeded")
	}
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("InTx = %v, want ErrConflict", err)
	}
	if _, err := s.GetDirectoryUser(ctx, d.ID, first.ID, false); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a user of the failed transaction exists: %v", err)
	}
	if _, err := s.GetEvent(ctx, ev); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an event of the failed transaction exists: %v", err)
	}

	// Without WithDeferredWrites every write reports its own error.
	s.InTx(ctx, func(q store.Queries) error {
		dupErr = q.CreateDirectoryUser(ctx, user("taken"))
		return dupErr
	})
	if !errors.Is(dupErr, store.ErrConflict) {
		t.Errorf("plain transaction: the duplicate's own call returned %v, want ErrConflict", dupErr)
	}
}
