"""OAuth2 client credentials (RFC 6749 §4.4): signing keys, short-lived access tokens, failed-login limits.

The HTTP front door is scim.api.oauth; the operator's use cases are in scim.platform.clients.
"""
