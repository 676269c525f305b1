"""`qmon serve`: the dashboard for the Quality Manager and the API of the CRM record cards.

Imported only by `qmon serve` (Starlette, uvicorn, authlib and argon2 are not loaded for any
other command). docs/serve.md describes running it, signing in, the card API and its
signatures, and the security headers.
"""
