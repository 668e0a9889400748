"""SCIM mechanics every resource type shares: search plans, PATCH, and the Entra dialect."""
