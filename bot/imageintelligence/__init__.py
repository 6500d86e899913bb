"""The shared, thread-safe, token-caching client for the Image Intelligence API v2.

`client` is the client; `transport` its retries; `contract` the API's limits and codes, which the
embedded API keeps too, beside the API's spec (`v2.swagger.json`); `models` the results; `errors`
what a call raises; `token` the cached access token.
"""
