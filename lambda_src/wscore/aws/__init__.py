"""Hand-written AWS wire code: SigV4 signing, the DynamoDB JSON client, @connections.

These modules replace botocore clients on the hot paths (docs/PERFORMANCE.md explains why)
and keep botocore's contract: the same request signatures, the same error types, the same
retry semantics (`retry`). Nothing here knows about rooms or the protocol.
"""
