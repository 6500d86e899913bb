"""End-to-end tests: through the running bot, or several processes of it. Signed requests built from
Slack's own payloads go in (or Socket Mode envelopes), and what reaches the Slack emulator and the
API comes out: uploads, commands, interactions, the App Home, many workspaces, Socket Mode, Redis
and scale-out with real faults, the web process and the CLI as real processes."""
