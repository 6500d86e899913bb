"""What the tests stand on: the Slack emulator, the servers they start, the bot as they run it, and
the builders and checkers they share. No tests here; `bench/` imports these too."""
