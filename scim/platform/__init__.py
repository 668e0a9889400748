"""The platform's own records: tenants (and, later, their activity and change feed)."""
