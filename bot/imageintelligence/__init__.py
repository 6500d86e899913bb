"""The shared, thread-safe, token-caching client for the Image Intelligence API v2.

`client` is the client; `contract` the API's limits and codes, which the embedded API keeps too;
`models` the results; `errors` what a call raises; `token` the cached access token.
"""
