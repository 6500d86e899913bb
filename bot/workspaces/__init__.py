"""Many workspaces: installations through Slack's OAuth flow, their tokens, and each workspace's
own settings, kept in a database (PostgreSQL, or SQLite for one process)."""
