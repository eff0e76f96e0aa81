"""Authentication for the $connect authorizer: settings, key sources, JWT verification.

`settings` parses the environment once; `secrets` (HS256 secret from Secrets Manager or SSM)
and `jwks` (RS256/ES256 keys from a JWKS URL) supply keys; `verify` checks a token and turns
its claims into an `Identity`; `authorizer` reads the API Gateway event and returns the IAM
policy. Only the authorizer function imports this package (PyJWT stays out of the others).
"""
