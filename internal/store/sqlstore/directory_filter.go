package sqlstore

import (
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// column is how a store.Cond field maps onto SQL.
type column struct {
	expr  string // SQL expression
	typ   string // store.FieldString, FieldBool, FieldTime
	lower bool   // the expression holds a lower-cased copy: compare lower-cased values
}

// The columns each Cond field compares. Case-insensitive SCIM attributes
// (userName, displayName, emails) use their indexed lower-cased copies.
var (
	userColumns = map[string]column{
		"id":           {"directory_users.id", store.FieldString, false},
		"user_name":    {"directory_users.user_name_lower", store.FieldString, true},
		"external_id":  {"directory_users.external_id", store.FieldString, false},
		"display_name": {"directory_users.display_name_lower", store.FieldString, true},
		"first_name":   {"LOWER(directory_users.first_name)", store.FieldString, true},
		"last_name":    {"LOWER(directory_users.last_name)", store.FieldString, true},
		"job_title":    {"LOWER(directory_users.job_title)", store.FieldString, true},
		"email":        {"directory_users.email_lower", store.FieldString, true},
		"state":        {"directory_users.state", store.FieldString, false},
		"active":       {"directory_users.state", store.FieldBool, false},
		"created_at":   {"directory_users.created_at", store.FieldTime, false},
		"updated_at":   {"directory_users.updated_at", store.FieldTime, false},
	}
	groupColumns = map[string]column{
		"id":           {"directory_groups.id", store.FieldString, false},
		"display_name": {"directory_groups.display_name_lower", store.FieldString, true},
		"external_id":  {"directory_groups.external_id", store.FieldString, false},
		"created_at":   {"directory_groups.created_at", store.FieldTime, false},
		"updated_at":   {"directory_groups.updated_at", store.FieldTime, false},
	}
	emailColumns = map[string]column{
		"value":   {"e.value_lower", store.FieldString, true},
		"type":    {"LOWER(e.type)", store.FieldString, true},
		"primary": {"e.is_primary", store.FieldBool, false},
	}
	groupOfUser = map[string]column{"value": {"m.group_id", store.FieldString, false}}
	userOfGroup = map[string]column{"value": {"m.user_id", store.FieldString, false}}
)

// condSQL translates c into a SQL condition over cols, adding its
// arguments to w. It refuses fields and operators it does not know, so a
// filter never turns into a scan or an error at the database.
func condSQL(w *where, c *store.Cond, cols map[string]column) (string, error) {
	if c == nil {
		return "", fmt.Errorf("filter: empty condition")
	}
	switch c.Op {
	case "and", "or":
		l, err := condSQL(w, c.Left, cols)
		if err != nil {
			return "", err
		}
		r, err := condSQL(w, c.Right, cols)
		if err != nil {
			return "", err
		}
		op := " AND "
		if c.Op == "or" {
			op = " OR "
		}
		return "(" + l + op + r + ")", nil
	case "not":
		s, err := condSQL(w, c.Left, cols)
		if err != nil {
			return "", err
		}
		return "NOT (" + s + ")", nil
	case "email":
		if _, ok := cols["user_name"]; !ok {
			return "", fmt.Errorf("filter: emails apply to users only")
		}
		s, err := condSQL(w, c.Sub, emailColumns)
		if err != nil {
			return "", err
		}
		return "EXISTS (SELECT 1 FROM directory_user_emails e WHERE e.user_id = directory_users.id AND " + s + ")", nil
	case "member":
		if _, ok := cols["user_name"]; ok {
			return "", fmt.Errorf("filter: members apply to groups only")
		}
		s, err := condSQL(w, c.Sub, userOfGroup)
		if err != nil {
			return "", err
		}
		return "EXISTS (SELECT 1 FROM directory_memberships m WHERE m.group_id = directory_groups.id AND " + s + ")", nil
	case "group":
		if _, ok := cols["user_name"]; !ok {
			return "", fmt.Errorf("filter: groups apply to users only")
		}
		s, err := condSQL(w, c.Sub, groupOfUser)
		if err != nil {
			return "", err
		}
		return "EXISTS (SELECT 1 FROM directory_memberships m WHERE m.user_id = directory_users.id AND " + s + ")", nil
	case "cmp":
		col, ok := cols[c.Field]
		if !ok {
			return "", fmt.Errorf("filter: unknown field %q", c.Field)
		}
		return cmpSQL(w, col, c)
	}
	return "", fmt.Errorf("filter: unknown operation %q", c.Op)
}

func cmpSQL(w *where, col column, c *store.Cond) (string, error) {
	if c.CmpOp == "pr" {
		switch col.typ {
		case store.FieldString:
			return col.expr + " <> ''", nil
		default:
			return "1 = 1", nil
		}
	}
	switch col.typ {
	case store.FieldBool:
		b, ok := c.Value.(bool)
		if !ok {
			return "", fmt.Errorf("filter: %s takes true or false", c.Field)
		}
		if c.CmpOp != "eq" && c.CmpOp != "ne" {
			return "", fmt.Errorf("filter: %s supports eq and ne only", c.Field)
		}
		if c.CmpOp == "ne" {
			b = !b
		}
		if col.expr == "directory_users.state" {
			// active is derived from the state column.
			if b {
				w.add(col.expr+" = ?", store.UserActive)
			} else {
				w.add(col.expr+" <> ?", store.UserActive)
			}
			return popCond(w), nil
		}
		w.add(col.expr+" = ?", b)
		return popCond(w), nil
	case store.FieldTime:
		t, ok := c.Value.(time.Time)
		if !ok {
			return "", fmt.Errorf("filter: %s takes a date-time string", c.Field)
		}
		op, ok := orderOps[c.CmpOp]
		if !ok {
			return "", fmt.Errorf("filter: %s does not support %s", c.Field, c.CmpOp)
		}
		w.add(col.expr+" "+op+" ?", store.Millis(t))
		return popCond(w), nil
	}
	s, ok := c.Value.(string)
	if !ok {
		return "", fmt.Errorf("filter: %s takes a string", c.Field)
	}
	if col.lower {
		s = strings.ToLower(s)
	}
	switch c.CmpOp {
	case "co":
		w.add(col.expr+` LIKE ? ESCAPE '\'`, "%"+likeEscape(s)+"%")
	case "sw":
		w.add(col.expr+` LIKE ? ESCAPE '\'`, likeEscape(s)+"%")
	case "ew":
		w.add(col.expr+` LIKE ? ESCAPE '\'`, "%"+likeEscape(s))
	default:
		op, ok := orderOps[c.CmpOp]
		if !ok {
			return "", fmt.Errorf("filter: unknown operator %q", c.CmpOp)
		}
		w.add(col.expr+" "+op+" ?", s)
	}
	return popCond(w), nil
}

var orderOps = map[string]string{"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}

// popCond removes and returns the condition that where.add just appended
// (keeping its arguments), so the caller can nest it.
func popCond(w *where) string {
	c := w.conds[len(w.conds)-1]
	w.conds = w.conds[:len(w.conds)-1]
	return c
}
