"""Unit tests: one test module per module or package of bot/, in the same folders (the tests of
bot/blocks/home.py are in unit/blocks/test_home.py). They call the code directly, over real HTTP
and real servers where it talks to them, without running the bot."""
