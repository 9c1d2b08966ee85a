package organization_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
	"github.com/workos/workos-go/v6/pkg/events"
	"github.com/workos/workos-go/v6/pkg/organization_domains"
	"github.com/workos/workos-go/v6/pkg/organizations"
	"github.com/workos/workos-go/v7"
)

func ptr[T any](v T) *T { return &v }

func newV7(s *apptest.Server) *workos.Client {
	return workos.NewClient(apptest.APIKey, workos.WithBaseURL(s.URL), workos.WithClientID(s.ClientID), workos.WithMaxRetries(0))
}

// TestOrganizationsWithSDKv7 drives the organizations API through the
// official generated Go SDK, on every backend.
func TestOrganizationsWithSDKv7(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s := apptest.Start(t, b.Name)
			c := newV7(s)
			ctx := context.Background()

			org, err := c.Organizations().Create(ctx, &workos.OrganizationsCreateParams{
				Name:       "Acme",
				DomainData: []*workos.OrganizationDomainData{{Domain: "acme.example", State: workos.OrganizationDomainDataStatePending}},
				Metadata:   map[string]string{"tier": "gold"},
				ExternalID: ptr("acme-1"),
			})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if org.Name != "Acme" || len(org.Domains) != 1 || org.Domains[0].Domain != "acme.example" || org.Metadata["tier"] != "gold" {
				t.Fatalf("created org = %+v", org)
			}
			if org.Domains[0].State == nil || *org.Domains[0].State != "pending" {
				t.Errorf("domain state = %v, want pending", org.Domains[0].State)
			}

			got, err := c.Organizations().GetByExternalID(ctx, "acme-1")
			if err != nil || got.ID != org.ID {
				t.Fatalf("get by external id = %+v, %v", got, err)
			}

			upd, err := c.Organizations().Update(ctx, org.ID, &workos.OrganizationsUpdateParams{Name: ptr("Acme Inc")})
			if err != nil {
				t.Fatalf("update: %v", err)
			}
			if upd.Name != "Acme Inc" || upd.Metadata["tier"] != "gold" || len(upd.Domains) != 1 || upd.ExternalID == nil || *upd.ExternalID != "acme-1" {
				t.Errorf("update changed more than the name: %+v", upd)
			}

			_, err = c.Organizations().Create(ctx, &workos.OrganizationsCreateParams{Name: "Dup", ExternalID: ptr("acme-1")})
			var apiErr *workos.APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusConflict || apiErr.Code != "external_id_already_used" {
				t.Errorf("duplicate external_id: err = %v", err)
			}

			// 23 more, then the iterator must walk all 24 and stop.
			for i := range 23 {
				if _, err := c.Organizations().Create(ctx, &workos.OrganizationsCreateParams{Name: fmt.Sprintf("Org %02d", i)}); err != nil {
					t.Fatal(err)
				}
			}
			it := c.Organizations().List(ctx, &workos.OrganizationsListParams{})
			n := 0
			seen := map[string]bool{}
			for it.Next() {
				n++
				if seen[it.Current().ID] {
					t.Fatalf("iterator repeated %s", it.Current().ID)
				}
				seen[it.Current().ID] = true
				if n > 100 {
					t.Fatal("iterator does not terminate")
				}
			}
			if err := it.Err(); err != nil {
				t.Fatal(err)
			}
			if n != 24 {
				t.Errorf("iterated %d organizations, want 24", n)
			}

			it = c.Organizations().List(ctx, &workos.OrganizationsListParams{Domains: []string{"acme.example"}})
			var found []string
			for it.Next() {
				found = append(found, it.Current().ID)
			}
			if len(found) != 1 || found[0] != org.ID {
				t.Errorf("list by domain = %v, want [%s]", found, org.ID)
			}

			if err := c.Organizations().Delete(ctx, org.ID); err != nil {
				t.Fatalf("delete: %v", err)
			}
			_, err = c.Organizations().Get(ctx, org.ID)
			var nf *workos.NotFoundError
			if !errors.As(err, &nf) {
				t.Errorf("get deleted org: err = %v, want NotFoundError", err)
			}

			// The changes are in the outbox, and the events iterator ends.
			evIt := c.Events().List(ctx, &workos.EventsListParams{Events: []string{"organization.created", "organization.deleted"}})
			count := map[string]int{}
			for evIt.Next() {
				count[evIt.Current().Event]++
			}
			if err := evIt.Err(); err != nil {
				t.Fatal(err)
			}
			if count["organization.created"] != 24 || count["organization.deleted"] != 1 {
				t.Errorf("events = %v", count)
			}
		})
	}
}

// TestOrganizationsWithSDKv6 drives the API with the older per-package
// clients, whose bodies carry empty strings and nulls that must not wipe data.
func TestOrganizationsWithSDKv6(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s := apptest.Start(t, b.Name)
			ctx := context.Background()
			oc := &organizations.Client{APIKey: apptest.APIKey, Endpoint: s.URL}
			dc := &organization_domains.Client{APIKey: apptest.APIKey, Endpoint: s.URL}
			ec := &events.Client{APIKey: apptest.APIKey, Endpoint: s.URL}

			org, err := oc.CreateOrganization(ctx, organizations.CreateOrganizationOpts{
				Name:       "Globex",
				DomainData: []organizations.OrganizationDomainData{{Domain: "globex.example", State: "verified"}},
				ExternalID: "globex",
				Metadata:   map[string]string{"plan": "enterprise"},
			})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			v := "x"
			upd, err := oc.UpdateOrganization(ctx, organizations.UpdateOrganizationOpts{Organization: org.ID, Metadata: map[string]*string{"region": &v}})
			if err != nil {
				t.Fatalf("update: %v", err)
			}
			if upd.Name != "Globex" || upd.ExternalID != "globex" || len(upd.Domains) != 1 || upd.Metadata["plan"] != "enterprise" || upd.Metadata["region"] != "x" {
				t.Errorf("v6 update wiped fields: %+v", upd)
			}
			upd, err = oc.UpdateOrganization(ctx, organizations.UpdateOrganizationOpts{Organization: org.ID, Metadata: map[string]*string{"region": nil}})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := upd.Metadata["region"]; ok || upd.Metadata["plan"] != "enterprise" {
				t.Errorf("null metadata value should delete only that key: %v", upd.Metadata)
			}

			list, err := oc.ListOrganizations(ctx, organizations.ListOrganizationsOpts{Domains: []string{"globex.example"}})
			if err != nil || len(list.Data) != 1 || list.Data[0].ID != org.ID {
				t.Fatalf("list by domain (brackets encoding) = %+v, %v", list, err)
			}

			d, err := dc.CreateDomain(ctx, organization_domains.CreateOrganizationDomainOpts{OrganizationID: org.ID, Domain: "sub.globex.example"})
			if err != nil {
				t.Fatalf("create domain: %v", err)
			}
			if d.State != "pending" || d.VerificationToken == "" || d.VerificationStrategy != "dns" {
				t.Errorf("new domain = %+v", d)
			}
			got, err := dc.GetDomain(ctx, organization_domains.GetOrganizationDomainOpts{DomainID: d.ID})
			if err != nil || got.ID != d.ID {
				t.Fatalf("get domain = %+v, %v", got, err)
			}
			if err := dc.DeleteDomain(ctx, organization_domains.DeleteOrganizationDomainOpts{DomainID: d.ID}); err != nil {
				t.Fatalf("delete domain: %v", err)
			}

			evs, err := ec.ListEvents(ctx, events.ListEventsOpts{Events: []string{"organization.updated", "organization_domain.created"}, OrganizationId: org.ID})
			if err != nil {
				t.Fatalf("events: %v", err)
			}
			var names []string
			for _, e := range evs.Data {
				names = append(names, e.Event)
			}
			want := []string{"organization.updated", "organization.updated", "organization_domain.created"}
			if fmt.Sprint(names) != fmt.Sprint(want) {
				t.Errorf("events = %v, want %v (oldest first)", names, want)
			}
		})
	}
}
