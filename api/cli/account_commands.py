"""``edgenas users ...`` and ``edgenas keys ...``: who may use the server, run on the server's
database (an operator's commands, not a client's)."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.server_commands import DatabaseUrl, database_session
from api.client.options import fail

users_app = typer.Typer(help="Users: who owns jobs, devices and keys.", no_args_is_help=True)
keys_app = typer.Typer(help="User API keys.", no_args_is_help=True)


def _when(moment: object) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


@users_app.command("create")
def create_user(
    name: Annotated[str, typer.Argument(help="The user's name (unique)")],
    admin: Annotated[bool, typer.Option("--admin", help="Sees every user's objects")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a user; then give them a key with ``edgenas keys create --user NAME``."""
    from api.server.users import create_user as create
    from edgenas.errors import ConflictError

    with database_session(database_url) as session:
        try:
            create(session, name, admin=admin)
        except ConflictError as exc:
            raise fail(str(exc)) from None
    typer.echo(f"created {'admin ' if admin else ''}user {name!r}")


@users_app.command("list")
def list_users(database_url: DatabaseUrl = None) -> None:
    """Every user: id, name, role, creation time and whether they were revoked."""
    from api.server.users import list_users as every_user

    with database_session(database_url) as session:
        for user in every_user(session):
            role = "admin" if user.admin else "user"
            state = f"revoked {_when(user.revoked_at)}" if user.revoked_at else "active"
            typer.echo(f"{user.id}\t{user.name}\t{role}\tcreated {_when(user.created_at)}\t{state}")


@users_app.command("revoke")
def revoke_user(
    name: Annotated[str, typer.Argument(help="The user's name")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a user and all their keys: their requests get 401 from now on."""
    from api.server.users import revoke_user as revoke
    from edgenas.errors import NotFoundError

    with database_session(database_url) as session:
        try:
            keys = revoke(session, name)
        except NotFoundError as exc:
            raise fail(str(exc)) from None
    typer.echo(f"revoked user {name!r} and {keys} key(s)")


@keys_app.command("create")
def create_key(
    user: Annotated[str, typer.Option("--user", help="Whose key it is (an existing user)")],
    label: Annotated[str | None, typer.Argument(help="What the key is for")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key of a user and print it (it is stored hashed and not shown again)."""
    from api.server.keys import create_api_key
    from api.server.users import user_by_name
    from edgenas.errors import NotFoundError

    with database_session(database_url) as session:
        try:
            owner = user_by_name(session, user)
        except NotFoundError:
            raise fail(f"no user named {user!r}; create one: edgenas users create {user}") from None
        typer.echo(create_api_key(session, owner, label))


@keys_app.command("list")
def list_keys(database_url: DatabaseUrl = None) -> None:
    """Every key: id, label, user, creation time and whether it was revoked."""
    from api.server.keys import list_api_keys

    with database_session(database_url) as session:
        for key, user in list_api_keys(session):
            state = f"revoked {_when(key.revoked_at)}" if key.revoked_at else "active"
            typer.echo(f"{key.id}\t{key.name}\t{user}\tcreated {_when(key.created_at)}\t{state}")


@keys_app.command("revoke")
def revoke_key(
    key_id: Annotated[int, typer.Argument(help="Key id (see `edgenas keys list`)")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a key: requests carrying it get 401 from now on."""
    from api.server.keys import revoke_api_key

    with database_session(database_url) as session:
        if not revoke_api_key(session, key_id):
            raise fail(f"no active key with id {key_id}")
    typer.echo(f"revoked key {key_id}")
