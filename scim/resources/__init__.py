"""SCIM resource types: one module per type (rules, indexes, use cases), what they share in base."""
