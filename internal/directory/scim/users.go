package scim

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func (s *Server) respondUser(req *request, status int, u store.DirectoryUser) error {
	_, gs, err := s.Svc.GetUser(req.r.Context(), req.dir.ID, u.ID)
	if err != nil {
		return err
	}
	q := req.r.URL.Query()
	out := project(userSchema, renderUser(req.base, u, gs), q.Get("attributes"), q.Get("excludedAttributes"))
	if status == http.StatusCreated {
		req.w.Header().Set("Location", req.base+"/Users/"+u.ID)
	}
	req.w.Header().Set("ETag", version(u.UpdatedAt))
	writeJSON(req.w, status, out)
	return nil
}

func (s *Server) createUser(req *request) error {
	in, err := decodeResource(req.body)
	if err != nil {
		return err
	}
	m, err := normalize(userSchema, in)
	if err != nil {
		return err
	}
	u, err := deriveUser(m)
	if err != nil {
		return err
	}
	u, err = s.Svc.CreateUser(req.r.Context(), req.dir, u)
	if err != nil {
		return err
	}
	q := req.r.URL.Query()
	req.w.Header().Set("Location", req.base+"/Users/"+u.ID)
	req.w.Header().Set("ETag", version(u.UpdatedAt))
	writeJSON(req.w, http.StatusCreated, project(userSchema, withMeta(req.base, m, u, nil), q.Get("attributes"), q.Get("excludedAttributes")))
	return nil
}

func (s *Server) getUser(req *request, userID string) error {
	u, _, err := s.Svc.GetUser(req.r.Context(), req.dir.ID, userID)
	if err != nil {
		return err
	}
	return s.respondUser(req, http.StatusOK, u)
}

// replaceUser is PUT: the body is the whole new resource (Okta sends the
// full object, including for deactivation).
func (s *Server) replaceUser(req *request, userID string) error {
	in, err := decodeResource(req.body)
	if err != nil {
		return err
	}
	m, err := normalize(userSchema, in)
	if err != nil {
		return err
	}
	nu, err := deriveUser(m)
	if err != nil {
		return err
	}
	u, err := s.Svc.UpdateUser(req.r.Context(), req.dir.ID, userID, func(cur store.DirectoryUser) (store.DirectoryUser, error) {
		return nu, checkVersion(req.r, cur.UpdatedAt)
	})
	if err != nil {
		return err
	}
	return s.respondUser(req, http.StatusOK, u)
}

func (s *Server) patchUser(req *request, userID string) error {
	pr, err := ParsePatch(req.body)
	if err != nil {
		return err
	}
	u, err := s.Svc.UpdateUser(req.r.Context(), req.dir.ID, userID, func(cur store.DirectoryUser) (store.DirectoryUser, error) {
		if err := checkVersion(req.r, cur.UpdatedAt); err != nil {
			return cur, err
		}
		return PatchUser(cur, pr)
	})
	if err != nil {
		return err
	}
	return s.respondUser(req, http.StatusOK, u)
}
