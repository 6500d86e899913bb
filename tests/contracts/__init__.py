"""Contract tests: what the tests and the app stand on, held to what the outside world publishes.
The manifest against Slack's schema, the Slack emulator against Slack's SDKs and method specs
(slack_emulator/, a module per area of it), signed requests against Bolt, the Block Kit checker
against Slack's rules, the shipped models against their sources, and the throwaway PostgreSQL
against a real one. The published contracts themselves are in this folder (README.md)."""
