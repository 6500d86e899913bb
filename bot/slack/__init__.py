"""Everything the bot says to Slack and reads from it: the Web API client of each workspace, one
place that turns Slack's refusals into log lines, and the safe download of shared files."""
