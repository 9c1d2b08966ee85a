package scim

import (
	"fmt"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/directory"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func (s *Server) respondGroup(req *request, status int, g store.DirectoryGroup) error {
	q := req.r.URL.Query()
	attrs, excluded := q.Get("attributes"), q.Get("excludedAttributes")
	withMembers := wanted(groupSchema, attrs, excluded, "members")
	var ms []store.Member
	if withMembers {
		var err error
		if ms, err = s.Svc.Store.GroupMembers(req.r.Context(), []string{g.ID}); err != nil {
			return fmt.Errorf("group members: %w", err)
		}
	}
	if status == http.StatusCreated {
		req.w.Header().Set("Location", req.base+"/Groups/"+g.ID)
	}
	req.w.Header().Set("ETag", version(g.UpdatedAt))
	writeJSON(req.w, status, project(groupSchema, renderGroup(req.base, g, ms, withMembers), attrs, excluded))
	return nil
}

// splitGroup normalizes a group body and takes its members out.
func splitGroup(in object) (store.DirectoryGroup, []string, bool, error) {
	m, err := normalize(groupSchema, in)
	if err != nil {
		return store.DirectoryGroup{}, nil, false, err
	}
	var ids []string
	_, hasMembers := m["members"]
	if hasMembers {
		if ids, err = membersOf(m["members"]); err != nil {
			return store.DirectoryGroup{}, nil, false, err
		}
		delete(m, "members")
	}
	g, err := deriveGroup(m)
	return g, ids, hasMembers, err
}

func (s *Server) createGroup(req *request) error {
	in, err := decodeResource(req.body)
	if err != nil {
		return err
	}
	g, ids, _, err := splitGroup(in)
	if err != nil {
		return err
	}
	g, err = s.Svc.CreateGroup(req.r.Context(), req.dir, g, ids)
	if err != nil {
		return err
	}
	return s.respondGroup(req, http.StatusCreated, g)
}

func (s *Server) getGroup(req *request, groupID string) error {
	g, err := s.Svc.GetGroup(req.r.Context(), req.dir.ID, groupID)
	if err != nil {
		return err
	}
	return s.respondGroup(req, http.StatusOK, g)
}

func (s *Server) replaceGroup(req *request, groupID string) error {
	in, err := decodeResource(req.body)
	if err != nil {
		return err
	}
	ng, ids, _, err := splitGroup(in)
	if err != nil {
		return err
	}
	g, err := s.Svc.UpdateGroup(req.r.Context(), req.dir.ID, groupID, func(cur store.DirectoryGroup) (directory.GroupChange, error) {
		return directory.GroupChange{Group: &ng, Replace: true, Set: ids}, checkVersion(req.r, cur.UpdatedAt)
	})
	if err != nil {
		return err
	}
	return s.respondGroup(req, http.StatusOK, g)
}

// patchGroup applies a PATCH: member operations become membership
// changes (inserts and deletes, never a rewrite of a member list, so
// concurrent PATCHes compose), the rest edits the group's attributes.
// Entra ID expects 204; a request that asks for attributes gets the group.
func (s *Server) patchGroup(req *request, groupID string) error {
	pr, err := ParsePatch(req.body)
	if err != nil {
		return err
	}
	g, err := s.Svc.UpdateGroup(req.r.Context(), req.dir.ID, groupID, func(cur store.DirectoryGroup) (directory.GroupChange, error) {
		if err := checkVersion(req.r, cur.UpdatedAt); err != nil {
			return directory.GroupChange{}, err
		}
		return PatchGroup(cur, pr)
	})
	if err != nil {
		return err
	}
	if req.r.URL.Query().Get("attributes") == "" {
		writeJSON(req.w, http.StatusNoContent, nil)
		return nil
	}
	return s.respondGroup(req, http.StatusOK, g)
}
