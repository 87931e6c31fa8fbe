"""pytest fixtures for packages that build on anaconda-auth (placeholder until the IdP lands)."""
