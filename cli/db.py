"""`trdflow db`: the clinical record's schema."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from store.db import create_pool
from store.migrate import migrate as apply_migrations
from worker.settings import get_settings

app = typer.Typer(help="The clinical record in PostgreSQL.", no_args_is_help=True)


@app.command()
def migrate() -> None:
    """Apply the versioned migrations not yet applied (DATABASE_URL, else the local stack's)."""
    applied = asyncio.run(_migrate(get_settings().database_url_or_local()))
    Console().print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none needed'}")


async def _migrate(url: str) -> list[str]:
    pool = await create_pool(url)
    try:
        return await apply_migrations(pool)
    finally:
        await pool.close()
