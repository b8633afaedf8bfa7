"""`trdflow tokens`: issue, revoke and list callers' tokens (kept hashed, in PostgreSQL).

Whoever runs these holds the database's credentials, so the commands are an administrator's;
each is audited under `--by`, in the transaction of its change.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import asyncpg
import typer
from pydantic import ValidationError
from rich.table import Table

from cli import options
from cli.errors import INVALID_INPUT, CliError, describe, reported
from cli.render import console, echo_json, when
from cli.runtime import with_pool
from domain.access import Identity, Kind, Role
from store import console_sessions, tokens
from store.audit import record_audit
from store.db import Executor

app = typer.Typer(
    help="Callers' tokens: each names an actor, a kind, roles and clinics, and expires.",
    no_args_is_help=True,
)

By = Annotated[str, typer.Option("--by", help="Who does this (your staff id); audited.")]


@app.command()
@reported
def issue(
    actor: Annotated[str, typer.Argument(help="Who the token signs in, e.g. nurse-kim.")],
    kind: Annotated[Kind, typer.Option(help="A person or a system.")],
    role: Annotated[list[Role], typer.Option("--role", help="A role; repeat for more.")],
    clinic: Annotated[
        list[str], typer.Option("--clinic", help="A clinic id, or '*' for every; repeat for more.")
    ],
    by: By,
    days: Annotated[
        int, typer.Option(min=1, max=tokens.MAX_LIFETIME.days, help="Days until it expires.")
    ] = 90,
    as_json: options.Json = False,
) -> None:
    """Issue a token. It is printed once: only its hash is kept."""
    try:
        identity = Identity(
            actor=actor, kind=kind, roles=frozenset(role), clinics=frozenset(clinic)
        )
    except ValidationError as err:
        raise CliError(describe(err, "not a valid token holder"), INVALID_INPUT) from err

    async def work(pool: asyncpg.Pool) -> tokens.IssuedToken:
        async with pool.acquire() as conn, conn.transaction():
            issued = await tokens.issue(conn, identity, timedelta(days=days), by)
            await _audit(conn, by, "token.issued", token_id=issued.token_id, actor=actor)
            return issued

    issued = with_pool(work)
    if as_json:
        echo_json(
            [
                {
                    "token_id": issued.token_id,
                    "token": issued.token,
                    "expires_at": issued.expires_at.isoformat(),
                }
            ]
        )
        return
    console.print(
        f"[green]✓[/green] token {issued.token_id} for {actor}, until {when(issued.expires_at)}"
    )
    console.print("Hand it over now; it cannot be shown again:")
    console.print(issued.token, soft_wrap=True, highlight=False)


@app.command()
@reported
def revoke(
    by: By,
    token_id: Annotated[str | None, typer.Argument(help="The token's id.")] = None,
    actor: Annotated[
        str | None,
        typer.Option(help="Revoke every token of this actor and end their console sessions."),
    ] = None,
) -> None:
    """Revoke one token, or all of an actor's. Console sessions opened with them end at once."""
    if (token_id is None) == (actor is None):
        raise CliError("name a token id or --actor, not both", INVALID_INPUT)

    async def work(pool: asyncpg.Pool) -> list[str]:
        async with pool.acquire() as conn, conn.transaction():
            revoked = await tokens.revoke(conn, by, token_id=token_id, actor=actor)
            if actor is not None:
                await console_sessions.end_for_actor(conn, actor)
            for each in revoked:
                await _audit(conn, by, "token.revoked", token_id=each, actor=actor)
            return revoked

    revoked = with_pool(work)
    if not revoked:
        raise CliError("no live token matched: nothing was revoked")
    console.print(f"[green]✓[/green] revoked {', '.join(revoked)}")


@app.command("list")
@reported
def list_tokens(
    every: Annotated[bool, typer.Option("--all", help="Expired and revoked ones too.")] = False,
    as_json: options.Json = False,
) -> None:
    """The tokens (never their secrets): who, what kind, roles, clinics, until when."""
    rows = with_pool(lambda pool: tokens.list_tokens(pool, include_dead=every))
    if as_json:
        echo_json(
            [
                {
                    "token_id": row.token_id,
                    **row.identity.model_dump(mode="json"),
                    "issued_by": row.issued_by,
                    "issued_at": row.issued_at.isoformat(),
                    "expires_at": row.expires_at.isoformat(),
                    "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
                }
                for row in rows
            ]
        )
        return
    table = Table("Id", "Actor", "Kind", "Roles", "Clinics", "Expires", "Revoked", title="Tokens")
    for row in rows:
        who = row.identity
        table.add_row(
            row.token_id,
            who.actor,
            who.kind,
            ", ".join(sorted(who.roles)),
            ", ".join(sorted(who.clinics)),
            when(row.expires_at),
            when(row.revoked_at),
        )
    console.print(table)


async def _audit(conn: Executor, by: str, action: str, **details: object) -> None:
    await record_audit(
        conn, actor=by, action=action, course_id=None, details=details, actor_kind=Kind.PERSON
    )
