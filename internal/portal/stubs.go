package portal

import "github.com/gatehouse-dev/gatehouse/internal/api"

func (h *Handler) certificateRoutes(r api.Router) {}
func (h *Handler) ssoRoutes(r api.Router)         {}
func (h *Handler) directoryRoutes(r api.Router)   {}
func (h *Handler) domainRoutes(r api.Router)      {}
