"""`trdflow fhir`: a course as a FHIR R4B Bundle, for an EHR."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import asyncpg
import typer

from api.audit import audited
from api.fhir_export import FHIR_PATH, NotRegisteredError, course_export, fhir_json, shows_phi
from cli import options
from cli.errors import CliError, reported
from cli.runtime import course_reader, course_status, open_client, with_pool
from worker.settings import Settings, get_settings

app = typer.Typer(help="FHIR R4B: courses as Bundles.")


@app.command()
@reported
def export(
    course_id: options.CourseId,
    base: Annotated[
        str | None,
        typer.Option(
            help="The FHIR base URL of the entries' fullUrl [default: the API's "
            f"TRDFLOW_PUBLIC_URL, else its local address, with {FHIR_PATH}]."
        ),
    ] = None,
) -> None:
    """Print the course's Bundle (JSON): the patient by ref only, unless TRDFLOW_TOKEN's
    holder has a role that may read PHI. Audited as `cli.fhir_exported`."""
    settings = get_settings()

    async def build(pool: asyncpg.Pool) -> str:
        reader = await course_reader(pool, settings, course_id)
        who = reader.who
        await audited(
            pool, who, "cli.fhir_exported", course_id, reader.clinic_id, phi=shows_phi(who)
        )
        status = await course_status(await open_client(settings), course_id)
        try:
            bundle = await course_export(
                pool, who, status, base=base or _api_base(settings), at=datetime.now(UTC)
            )
        except NotRegisteredError as err:
            raise CliError(str(err)) from None
        return fhir_json(bundle)

    typer.echo(with_pool(build, settings))


def _api_base(settings: Settings) -> str:
    api = settings.public_url or f"http://{settings.api_host}:{settings.api_port}"
    return api.rstrip("/") + FHIR_PATH
