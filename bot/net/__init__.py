"""Fetching from the network safely: the rule for which hosts may be reached, and the one way to fetch."""
