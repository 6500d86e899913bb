"""The workspaces the app is installed in, and the bot token of each, kept in the database.

slack_sdk's SQLAlchemy stores keep the installations and the OAuth states (built here explicitly:
Bolt's implicit file stores would not survive a dyno restart, nor be shared by processes). With
token rotation (SLACK_TOKEN_ROTATION), a bot token is refreshed before it expires by one process at
a time: the one that takes the database lock reads the installation again, and refreshes it only
if no other process has meanwhile; so a refresh token is never spent twice.
"""

from __future__ import annotations

import logging
import time

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import Authorize
from slack_bolt.context import BoltContext
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store import Bot
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from slack_sdk.oauth.token_rotation import TokenRotator

from bot.workspaces.database import Database

logger = logging.getLogger(__name__)

# Refresh a rotating token this long before it expires (slack_sdk's and Bolt's default).
ROTATE_BEFORE_MINUTES = 120
STATE_SECONDS = 600  # how long an "Add to Slack" link stays valid


class Installations:
    def __init__(
        self,
        database: Database,
        *,
        client_id: str,
        client_secret: str,
        client: WebClient,
        rotation: bool,
    ) -> None:
        self._database = database
        self.store = SQLAlchemyInstallationStore(client_id=client_id, engine=database.engine)
        self.states = SQLAlchemyOAuthStateStore(
            expiration_seconds=STATE_SECONDS, engine=database.engine
        )
        with database.exclusive("create tables"):  # processes starting together
            self.store.create_tables()
            self.states.create_tables()
        self._rotator = (
            TokenRotator(client_id=client_id, client_secret=client_secret, client=client)
            if rotation
            else None
        )

    def bot(self, team_id: str | None, enterprise_id: str | None = None) -> Bot | None:
        """The workspace's bot installation with a token that is good for a while; None when
        the app is not installed there."""
        bot = self.store.find_bot(enterprise_id=enterprise_id, team_id=team_id)
        if bot is None or self._rotator is None or not _expiring(bot):
            return bot
        with self._database.exclusive(f"rotate {enterprise_id}:{team_id}"):
            bot = self.store.find_bot(enterprise_id=enterprise_id, team_id=team_id)
            if bot is None:
                return None
            refreshed = self._rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=ROTATE_BEFORE_MINUTES
            )
            if refreshed is None:
                return bot  # another process refreshed it first
            self.store.save_bot(refreshed)
            logger.info("refreshed the bot token of workspace %s", team_id)
            return refreshed


def _expiring(bot: Bot) -> bool:
    expires = bot.bot_token_expires_at
    return expires is not None and expires <= time.time() + ROTATE_BEFORE_MINUTES * 60


class InstalledAuthorize(Authorize):
    """Bolt's authorize step from the installations (the tokens refreshed as above), so that the
    listeners' Web API calls and the jobs' use the same token."""

    def __init__(self, installations: Installations) -> None:
        self._installations = installations

    def __call__(
        self,
        *,
        context: BoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        **actor: str | None,
    ) -> AuthorizeResult | None:
        bot = self._installations.bot(team_id, enterprise_id)
        if bot is None:
            return None
        return AuthorizeResult(
            enterprise_id=bot.enterprise_id,
            team_id=bot.team_id,
            bot_user_id=bot.bot_user_id,
            bot_id=bot.bot_id,
            bot_token=bot.bot_token,
            bot_scopes=bot.bot_scopes,
            user_id=user_id,
        )
