"""The web portal: pages over the service layer (no business rule lives here)."""
