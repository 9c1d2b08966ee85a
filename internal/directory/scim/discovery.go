package scim

import (
	"net/http"
	"strings"
)

func (s *Server) serviceProviderConfig(base string) object {
	return object{
		"schemas":          []any{SchemaSPConfig},
		"documentationUri": "https://github.com/gatehouse-dev/gatehouse/blob/main/docs/scim.md",
		"patch":            object{"supported": true},
		"bulk":             object{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           object{"supported": true, "maxResults": maxCount},
		"changePassword":   object{"supported": false},
		"sort":             object{"supported": false},
		"etag":             object{"supported": false},
		"authenticationSchemes": []any{object{
			"type": "oauthbearertoken", "name": "Bearer token", "primary": true,
			"description": "The directory's bearer token, created with POST /directories/{id}/tokens.",
		}},
		"meta": object{"resourceType": "ServiceProviderConfig", "location": base + "/ServiceProviderConfig"},
	}
}

func resourceType(base, name string) object {
	rt := object{
		"schemas": []any{SchemaResType}, "id": name, "name": name, "endpoint": "/" + name + "s",
		"meta": object{"resourceType": "ResourceType", "location": base + "/ResourceTypes/" + name},
	}
	if name == "User" {
		rt["description"] = "User Account"
		rt["schema"] = SchemaUser
		rt["schemaExtensions"] = []any{object{"schema": SchemaEnterprise, "required": false}}
	} else {
		rt["description"] = "Group"
		rt["schema"] = SchemaGroup
	}
	return rt
}

func schemaDoc(base, id, name string, attrs []Attribute) object {
	return object{
		"schemas": []any{SchemaSchema}, "id": id, "name": name, "description": name, "attributes": attrs,
		"meta": object{"resourceType": "Schema", "location": base + "/Schemas/" + id},
	}
}

func (s *Server) schemas(base string) []object {
	return []object{
		schemaDoc(base, SchemaUser, "User", append(append([]Attribute{}, userAttrs...), commonAttrs[1])),
		schemaDoc(base, SchemaEnterprise, "EnterpriseUser", enterpriseAttrs),
		schemaDoc(base, SchemaGroup, "Group", append(append([]Attribute{}, groupAttrs...), commonAttrs[1])),
	}
}

func listOf(items []object) object {
	res := make([]any, len(items))
	for i, it := range items {
		res[i] = it
	}
	return object{"schemas": []any{SchemaListResp}, "totalResults": len(items), "itemsPerPage": len(items), "startIndex": 1, "Resources": res}
}

// discovery serves ServiceProviderConfig, ResourceTypes and Schemas.
func (s *Server) discovery(w http.ResponseWriter, base string, parts []string) error {
	switch parts[0] {
	case "ServiceProviderConfig":
		if len(parts) > 1 {
			return notFound("ServiceProviderConfig has no sub-resources.")
		}
		writeJSON(w, http.StatusOK, s.serviceProviderConfig(base))
	case "ResourceTypes":
		all := []object{resourceType(base, "User"), resourceType(base, "Group")}
		if len(parts) == 1 {
			writeJSON(w, http.StatusOK, listOf(all))
			return nil
		}
		for _, rt := range all {
			if strings.EqualFold(rt["id"].(string), parts[1]) {
				writeJSON(w, http.StatusOK, rt)
				return nil
			}
		}
		return notFound("No resource type " + parts[1] + ".")
	case "Schemas":
		all := s.schemas(base)
		if len(parts) == 1 {
			writeJSON(w, http.StatusOK, listOf(all))
			return nil
		}
		id := strings.Join(parts[1:], "/")
		for _, sc := range all {
			if strings.EqualFold(sc["id"].(string), id) {
				writeJSON(w, http.StatusOK, sc)
				return nil
			}
		}
		return notFound("No schema " + id + ".")
	}
	return nil
}

func notFound(detail string) *Error {
	return &Error{Status: http.StatusNotFound, SCIMType: TypeNoTarget, Detail: detail}
}
