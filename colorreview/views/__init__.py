"""HTML views (thin: parse the request, call a service or selector, render)."""
