package testidp

import (
	"crypto/subtle"
	"errors"
	"slices"
	"strings"
	"sync"
)

// User is a person who can sign in at a test IdP.
type User struct {
	// Email is the sign-in name (matched case-insensitively) and the email
	// claim or attribute. Required.
	Email string
	// Password is what the login form accepts. It is kept in clear because
	// the login page lists it for the demo (see SAMLOptions.HideUsers).
	Password string
	// FirstName and LastName become the firstName/lastName SAML attributes
	// and the given_name/family_name OIDC claims.
	FirstName string
	LastName  string
	// Groups become the groups SAML attribute and OIDC claim.
	Groups []string
	// Subject is the stable identifier: the OIDC sub claim and the SAML
	// NameID (persistent format). When empty, the email address is used
	// (emailAddress format in SAML).
	Subject string
}

// subject returns the OIDC sub claim for u.
func (u User) subject() string {
	if u.Subject != "" {
		return u.Subject
	}
	return u.Email
}

// name returns the display name of u.
func (u User) name() string {
	return strings.TrimSpace(u.FirstName + " " + u.LastName)
}

// userStore holds the users of one IdP, in the order they were added so
// that the login page lists them predictably.
type userStore struct {
	mu    sync.RWMutex
	users []User
}

// put adds u, replacing any user with the same email address.
func (s *userStore) put(u User) error {
	if strings.TrimSpace(u.Email) == "" {
		return errors.New("testidp: user needs an email address")
	}
	u.Groups = slices.Clone(u.Groups)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.users {
		if strings.EqualFold(s.users[i].Email, u.Email) {
			s.users[i] = u
			return nil
		}
	}
	s.users = append(s.users, u)
	return nil
}

// get returns the user with the given email address.
func (s *userStore) get(email string) (User, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, u := range s.users {
		if strings.EqualFold(u.Email, email) {
			return u, true
		}
	}
	return User{}, false
}

// all returns a copy of the users, in the order they were added.
func (s *userStore) all() []User {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.users)
}

// authenticate returns the user whose email and password match.
func (s *userStore) authenticate(email, password string) (User, bool) {
	u, ok := s.get(strings.TrimSpace(email))
	// Compare even when the user is unknown, so that timing does not tell
	// which addresses exist; a test IdP should still behave like a real one.
	match := subtle.ConstantTimeCompare([]byte(u.Password), []byte(password)) == 1
	if !ok || !match || u.Password == "" {
		return User{}, false
	}
	return u, true
}
