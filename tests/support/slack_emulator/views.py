"""Views and users: the Home tab (``views.publish``), modals (``views.open``, ``views.update``) and
``users.info``.

A view is refused as Slack refuses it: ``invalid_arguments`` with messages in Slack's
``[ERROR] ... [json-pointer:...]`` style. Its shape is checked here (an object, of the method's
type, with blocks); Block Kit's rules and limits (blocks per view, the texts of a modal's title,
submit and close, every block) by tests/support/blockkit.py, with slack_sdk's models.
"""

from __future__ import annotations

import copy
import re
import secrets

from tests.support.blockkit import slack_problems
from tests.support.slack_emulator.arguments import JsonDict, SlackError, json_arg
from tests.support.slack_emulator.core import EmulatorCore, Workspace

# Slack's trigger ids: "12345.98765.abcd2358fdea" (views.open reference).
_TRIGGER_ID = re.compile(r"^\d+\.\d+\.[0-9A-Za-z]+$")


class Views(EmulatorCore):
    def _set_up(self) -> None:
        super()._set_up()
        self._users: dict[tuple[str, str], JsonDict] = {}  # (team, user) -> users.info's user
        self._views: dict[str, JsonDict] = {}  # view id -> the view as Slack returns it
        self._homes: dict[tuple[str, str], str] = {}  # (team, user) -> their Home tab's view id
        self._triggers: set[str] = set()  # trigger ids already exchanged
        self._methods.update(
            {
                "users.info": self._users_info,
                "views.publish": self._views_publish,
                "views.open": self._views_open,
                "views.update": self._views_update,
            }
        )

    def add_user(
        self,
        user_id: str,
        *,
        team: str | None = None,
        name: str | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        is_primary_owner: bool = False,
    ) -> JsonDict:
        """Register a member of workspace ``team`` (default: the default one) for ``users.info``;
        returns the user object, built on the example of Slack's users.info reference."""
        team_id = team or self.team_id
        user = copy.deepcopy(self._specs["users.info"]["examples"]["success"]["example"]["user"])
        login = name or user_id.lower()
        user.update(
            id=user_id,
            team_id=team_id,
            name=login,
            real_name=login,
            is_admin=is_admin,
            is_owner=is_owner,
            is_primary_owner=is_primary_owner,
            updated=int(self.now()),
        )
        user["profile"].update(
            real_name=login,
            real_name_normalized=login,
            display_name=login,
            display_name_normalized=login,
            email=f"{login}@{self._workspaces[team_id].domain}.example.com",
            team=team_id,
        )
        with self._lock:
            self._users[(team_id, user_id)] = user
        return copy.deepcopy(user)

    def home_view(self, user_id: str, *, team: str | None = None) -> JsonDict | None:
        """The Home tab ``views.publish`` last published for ``user_id`` in ``team``, if any."""
        with self._lock:
            view_id = self._homes.get((team or self.team_id, user_id))
            return copy.deepcopy(self._views[view_id]) if view_id else None

    def view(self, view_id: str) -> JsonDict:
        """A view as it stands now (published, opened or updated), as Slack returns it."""
        with self._lock:
            return copy.deepcopy(self._views[view_id])

    def _users_info(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        with self._lock:
            user = self._users.get((workspace.team_id, str(args["user"])))
        if user is None:
            raise SlackError("user_not_found")
        return {"user": copy.deepcopy(user)}

    def _views_publish(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        view = _view_arg(args, "home")
        key = (workspace.team_id, str(args["user_id"]))
        with self._lock:
            # A user's Home tab keeps its view id across publishes.
            current = self._views.get(self._homes.get(key, ""))
            if current is not None:
                _check_hash(args, current)
            stored = self._store_view(view, workspace, current)
            self._homes[key] = stored["id"]
        return {"view": stored}

    def _views_open(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        trigger = str(args.get("trigger_id") or args.get("interactivity_pointer") or "")
        if not _TRIGGER_ID.match(trigger):
            raise SlackError("invalid_trigger_id")
        view = _view_arg(args, "modal")
        with self._lock:
            if trigger in self._triggers:
                raise SlackError("exchanged_trigger_id")
            self._triggers.add(trigger)
            return {"view": self._store_view(view, workspace, None)}

    def _views_update(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        view_id, external_id = args.get("view_id"), args.get("external_id")
        with self._lock:
            current = next(
                (
                    v
                    for v in self._views.values()
                    if v["team_id"] == workspace.team_id
                    and (
                        (view_id and v["id"] == view_id)
                        or (external_id and v["external_id"] == external_id)
                    )
                ),
                None,
            )
            if current is None:
                raise SlackError("not_found")
            view = _view_arg(args, current["type"])
            _check_hash(args, current)
            return {"view": self._store_view(view, workspace, current)}

    def _store_view(
        self, view: JsonDict, workspace: Workspace, current: JsonDict | None
    ) -> JsonDict:
        """The view as Slack keeps and returns it (keys of the views.* reference examples): an id
        (kept when ``current`` is replaced), a new ``hash``, a ``block_id`` on every block."""
        view_id = current["id"] if current else self._next_id("V")
        blocks = [
            {"block_id": secrets.token_urlsafe(4), **block} if isinstance(block, dict) else block
            for block in view["blocks"]
        ]
        stored: JsonDict = {
            "id": view_id,
            "team_id": workspace.team_id,
            "type": view["type"],
            "blocks": blocks,
            "private_metadata": str(view.get("private_metadata") or ""),
            "callback_id": str(view.get("callback_id") or ""),
            "state": {"values": {}},
            "hash": f"{int(self.now())}.{secrets.token_urlsafe(6)}",
            "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.app_id,
            "external_id": str(view.get("external_id") or ""),
            "app_installed_team_id": workspace.team_id,
            "bot_id": workspace.bot_id,
        }
        with self._lock:
            self._views[view_id] = stored
        return copy.deepcopy(stored)


def _view_arg(args: JsonDict, view_type: str) -> JsonDict:
    """The ``view`` argument (JSON string or object): an object of ``view_type`` with blocks, that
    breaks none of Block Kit's rules. Else ``invalid_arguments`` with a message for each problem."""
    try:
        view = json_arg(args, "view")
    except SlackError:
        view = None
    if not isinstance(view, dict):
        problems = ["[ERROR] must provide an object [json-pointer:/view]"]
    else:
        problems = []
        if view.get("type") != view_type:
            problems.append("[ERROR] must be a valid enum value [json-pointer:/view/type]")
        if not isinstance(view.get("blocks"), list):
            problems.append("[ERROR] missing required field: blocks [json-pointer:/view]")
        if not problems:
            problems = [f"[ERROR] {p} [json-pointer:/view]" for p in slack_problems(view)]
    if problems:
        raise SlackError("invalid_arguments", response_metadata={"messages": problems})
    assert isinstance(view, dict)
    return view


def _check_hash(args: JsonDict, current: JsonDict) -> None:
    """views.publish/views.update with a ``hash`` only replace the view that hash came from."""
    if args.get("hash") and args["hash"] != current["hash"]:
        raise SlackError("hash_conflict")
