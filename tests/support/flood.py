"""A workspace's flood, for the fair-shares test and benchmark: messages of ten photos shared at
once, and the bot they are sent to, in one process or with Redis (a web app and a worker in this
process), waited on until every job it took has ended."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from bot.config import load_settings
from bot.process.runtime import working
from bot.queue.redis import MESSAGES
from tests.support.photos import photo
from tests.support.redisserver import RedisServer
from tests.support.slack_emulator import SlackEmulator, Workspace
from tests.support.slack_signing import file_share_event
from tests.support.slackbot import REPLY_TIMEOUT, Bot, idle, running_bot, settings_env
from tests.support.waiting import until


@contextmanager
def serving(slack: SlackEmulator, redis: RedisServer | None, **env: str) -> Iterator[Bot]:
    """The bot: one process, or with `redis` a web app and a worker."""
    if redis is not None:
        env = {"REDIS_URL": redis.url, **env}
    with ExitStack() as stack:
        bot = stack.enter_context(running_bot(slack, **env))
        if redis is not None:
            settings = load_settings(settings_env(slack, **env), dotenv_path=None)
            stack.enter_context(working(settings))
        yield bot


def settled(bot: Bot, redis: RedisServer | None) -> None:
    """Wait until every job the bot took has ended."""
    if redis is None:
        idle(bot)
        return
    with redis.client() as client:
        assert until(lambda: sum(client.hlen(key) for key in MESSAGES) == 0, REPLY_TIMEOUT)


def album(
    slack: SlackEmulator, team: Workspace, channel: str, user: str, name: str = "chelsea.png"
) -> dict[str, Any]:
    """A message of `user` sharing ten copies of tests/images/`name`; its Events API envelope."""
    files = [slack.add_image(photo(name), f"{n}-{name}", team=team.team_id) for n in range(10)]
    message = slack.add_message(channel, "", user=user, files=files)
    return file_share_event(
        files,
        channel=channel,
        ts=message["ts"],
        user=user,
        team_id=team.team_id,
        bot_user_id=team.bot_user_id,
    )
