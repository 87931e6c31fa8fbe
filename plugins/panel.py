"""Panel OAuth provider (placeholder until the Panel work lands)."""
