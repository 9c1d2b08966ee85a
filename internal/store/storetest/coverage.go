package storetest

// covered maps every method of store.Store to the conformance test that
// checks its contract (other tests may call it too). Keep one line per
// method, grouped by interface; TestEveryMethodIsCovered fails while a
// method is missing here, or a line names a method or test that does not
// exist.
var covered = map[string]string{
	// Store
	"InTx":    "transaction rolls back on error",
	"Ping":    "ping, dialect and close",
	"Dialect": "ping, dialect and close",
	"Close":   "ping, dialect and close",

	// Settings
	"GetOrCreateSetting": "settings keep the first value",

	// APIKeys
	"UpsertAPIKey": "api keys by hash",
	"APIKeyByHash": "api keys by hash",
	"ListAPIKeys":  "api keys: list, revoke, last used",
	"DeleteAPIKey": "api keys: list, revoke, last used",
	"TouchAPIKey":  "api keys: list, revoke, last used",

	// Idempotency
	"ReserveIdempotencyKey":   "idempotency reservation is won once",
	"CompleteIdempotencyKey":  "idempotency reservations",
	"ReleaseIdempotencyKey":   "idempotency reservations",
	"DeleteIdempotencyBefore": "idempotency sweep keeps newer records",

	// Organizations
	"CreateOrganization":          "organizations round trip",
	"UpdateOrganization":          "organizations round trip",
	"DeleteOrganization":          "organizations round trip",
	"GetOrganization":             "organizations round trip",
	"GetOrganizationByExternalID": "organization by external id",
	"ListOrganizations":           "pagination cursors",

	// Domains
	"CreateDomain":    "domain uniqueness rules",
	"UpdateDomain":    "domains round trip",
	"DeleteDomain":    "domains round trip",
	"GetDomain":       "domains round trip",
	"ListDomains":     "domains round trip",
	"ListDomainsFor":  "domains of many organizations",
	"VerifiedDomain":  "domain uniqueness rules",
	"ClaimDueDomains": "due domain checks are claimed once",

	// Events
	"AppendEvent": "events readers never skip a late commit",
	"ListEvents":  "events filters and order",
	"GetEvent":    "events round trip",

	// SSO
	"CreateConnection":           "connections round trip",
	"UpdateConnection":           "connections round trip",
	"DeleteConnection":           "connections round trip",
	"GetConnection":              "connections round trip",
	"ListConnections":            "connections list filters and pages",
	"ConnectionsForOrganization": "connections of an organization",
	"ClaimDueMetadataRefresh":    "due metadata refreshes are claimed once",
	"PutCertificate":             "certificates round trip",
	"DeleteRetiredCertificates":  "certificate retirement",
	"UpdateConnectionIf":         "connection compare-and-set",
	"RecordUnknownCertificate":   "certificate retirement",
	"DeleteCertificate":          "certificates round trip",
	"DeleteCertificatesBySource": "certificates round trip",
	"ListCertificates":           "certificates round trip",
	"CertificatesExpiringBefore": "certificates expiring before a time",
	"MarkCertificateNotified":    "certificate notices are marked once",
	"MarkCertificateVerified":    "certificate last verification moves forward",
	"CreateSSORequest":           "sso requests are taken once",
	"GetSSORequest":              "sso requests are taken once",
	"TakeSSORequest":             "sso requests are taken once",
	"TakeExpiredSSORequests":     "expired sso requests are taken once",
	"CreateSSOCode":              "sso codes are taken once",
	"TakeSSOCode":                "sso codes are taken once",
	"CreateSSOToken":             "sso tokens are read until swept",
	"GetSSOToken":                "sso tokens are read until swept",
	"ConsumeReplayKey":           "replay keys are consumed once",
	"DeleteExpiredSSO":           "sso tokens are read until swept",
	"CreateRedirectURI":          "redirect uris",
	"ListRedirectURIs":           "redirect uris",
	"DeleteRedirectURI":          "redirect uris",

	// Directories
	"CreateDirectory":          "directories round trip",
	"UpdateDirectory":          "directories round trip",
	"DeleteDirectory":          "deletes cascade through a directory",
	"GetDirectory":             "directories round trip",
	"ListDirectories":          "directories list filters and pages",
	"CountDirectory":           "directory counts",
	"ActivateDirectory":        "directory activation is reported once",
	"ClaimDueDirectorySyncs":   "due directory syncs are claimed once",
	"LeaseDirectorySync":       "directory sync lease",
	"ReleaseDirectorySync":     "directory sync lease",
	"CreateDirectoryToken":     "directory tokens",
	"DeleteDirectoryToken":     "directory tokens",
	"ListDirectoryTokens":      "directory tokens",
	"DirectoryByTokenHash":     "directory tokens",
	"TouchDirectoryToken":      "directory tokens",
	"CreateDirectoryUser":      "directory users round trip",
	"UpdateDirectoryUser":      "directory users round trip",
	"DeleteDirectoryUser":      "directory users round trip",
	"GetDirectoryUser":         "directory users round trip",
	"GetDirectoryUsers":        "directory users by ids and idp id",
	"DirectoryUserByIdPID":     "directory users by ids and idp id",
	"QueryDirectoryUsers":      "directory users scim query",
	"ListDirectoryUsers":       "directory users list filters and pages",
	"AllDirectoryUserIDs":      "directory users by ids and idp id",
	"CreateDirectoryGroup":     "directory groups round trip",
	"UpdateDirectoryGroup":     "directory groups round trip",
	"DeleteDirectoryGroup":     "directory groups round trip",
	"GetDirectoryGroup":        "directory groups round trip",
	"QueryDirectoryGroups":     "directory groups scim query",
	"ListDirectoryGroups":      "directory groups list filters and pages",
	"AllDirectoryGroupIDs":     "directory groups round trip",
	"AddMember":                "group memberships",
	"AddMembers":               "group memberships",
	"RemoveMember":             "group memberships",
	"GroupMembers":             "group memberships",
	"UserGroups":               "group memberships",
	"AppendSCIMRequests":       "scim request log",
	"ListSCIMRequests":         "scim request log",
	"DeleteSCIMRequestsBefore": "scim request log",

	// AuditLogs
	"InsertAuditLogEvent":         "audit logs",
	"ListAuditLogEvents":          "audit logs",
	"DeleteExpiredAuditLogEvents": "audit logs",
	"CreateAuditLogSchema":        "audit logs",
	"GetAuditLogSchema":           "audit logs",
	"ListAuditLogSchemas":         "audit logs",
	"ListAuditLogActions":         "audit logs",
	"CreateAuditLogExport":        "audit logs",
	"GetAuditLogExport":           "audit logs",
	"FinishAuditLogExport":        "audit logs",
	"ClaimDueAuditLogExports":     "audit logs",
	"ExpireAuditLogExports":       "audit logs",
	"GetAuditLogRetention":        "audit logs",
	"SetAuditLogRetention":        "audit logs",

	// Secrets
	"ReplaceSealed": "sealed values are swapped in place",

	// Deliveries
	"PutConsumer":           "delivery consumers: lease, cursor, failures, parking, rewind",
	"GetConsumer":           "delivery consumers: lease, cursor, failures, parking, rewind",
	"DeleteConsumer":        "delivery consumers: lease, cursor, failures, parking, rewind",
	"ClaimConsumers":        "delivery consumers are claimed once",
	"RenewConsumerLease":    "delivery consumers: lease, cursor, failures, parking, rewind",
	"ReleaseConsumer":       "delivery consumers: lease, cursor, failures, parking, rewind",
	"MarkConsumerChecked":   "delivery consumers checked to the end wait for new events",
	"AdvanceConsumer":       "delivery consumers: lease, cursor, failures, parking, rewind",
	"CommitLazily":          "delivery consumers: a lazily committed cursor move",
	"RecordConsumerFailure": "delivery consumers: lease, cursor, failures, parking, rewind",
	"SetConsumerState":      "delivery consumers: lease, cursor, failures, parking, rewind",
	"RewindConsumer":        "delivery consumers: lease, cursor, failures, parking, rewind",

	// LogStreams
	"CreateLogStream":         "log streams are scoped to their organization",
	"UpdateLogStream":         "log streams are scoped to their organization",
	"DeleteLogStream":         "log streams are scoped to their organization",
	"GetLogStream":            "log streams are scoped to their organization",
	"ListLogStreams":          "log streams are scoped to their organization",
	"RecordLogStreamDelivery": "log streams are scoped to their organization",

	// Webhooks
	"CreateWebhookEndpoint":         "webhook endpoints and delivery log",
	"UpdateWebhookEndpoint":         "webhook endpoints and delivery log",
	"DeleteWebhookEndpoint":         "webhook endpoints and delivery log",
	"GetWebhookEndpoint":            "webhook endpoints and delivery log",
	"ListWebhookEndpoints":          "webhook endpoints and delivery log",
	"AddWebhookDeliveries":          "webhook endpoints and delivery log",
	"ListWebhookDeliveries":         "webhook endpoints and delivery log",
	"DeleteWebhookDeliveriesBefore": "webhook endpoints and delivery log",

	// Portal
	"CreatePortalLink":    "portal links are used once",
	"TakePortalLink":      "portal links are used once",
	"CreatePortalSession": "portal sessions slide and expire",
	"GetPortalSession":    "portal sessions slide and expire",
	"TouchPortalSession":  "portal sessions slide and expire",
	"DeletePortalSession": "portal sessions slide and expire",
	"DeleteExpiredPortal": "portal sessions slide and expire",
}
