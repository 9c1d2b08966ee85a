package portal

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
)

// brandCSS serves the accent colour as CSS variables, so that pages keep a
// strict style-src 'self' with no inline styles. The text colour on the
// accent and the link colour are chosen for WCAG AA contrast.
func (h *Handler) brandCSS(w http.ResponseWriter, r *http.Request) {
	h.secureHeaders(w)
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	accent := h.Brand.AccentColor
	if accent == "" {
		fmt.Fprint(w, "/* default accent */\n")
		return
	}
	on := "#ffffff"
	if contrast(accent, "#ffffff") < 4.5 {
		on = "#111827"
	}
	link := accent
	if contrast(accent, "#ffffff") < 4.5 {
		link = "#1d4ed8"
	}
	fmt.Fprintf(w, ":root{--accent:%s;--on-accent:%s;--link:%s}\n", accent, on, link)
}

func luminance(hex string) float64 {
	ch := func(i int) float64 {
		v, _ := strconv.ParseUint(hex[i:i+2], 16, 8)
		c := float64(v) / 255
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(1) + 0.7152*ch(3) + 0.0722*ch(5)
}

// contrast is the WCAG contrast ratio of two #rrggbb colours.
func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}
