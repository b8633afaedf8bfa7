"""The on-call console in real headless Chromium (Debian's, through Playwright), against the
real app served by uvicorn over the time-skipping server and the embedded Postgres."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    async_playwright,
    expect,
)
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from cli.handles import escalation_handle
from cli.localstack import quiet, served
from cli.room import ClinicApi
from domain.escalation import AckChannel, EscalationStatus, Severity
from domain.vitals import VitalSigns
from tests.console_rows import course_with_reading, seed
from tests.http_api import api_settings, token_of
from tests.sessions import GATEWAY, scheduled_session, skip_to_check_in
from worker.settings import Settings
from workflows.escalation import Escalation

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SEEN_MS = 20_000
"""How long the page may take to show a change (a reading passes a workflow and an activity)."""

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists() and os.environ.get("CI") != "true",
        reason=f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run does; CI never skips)",
    ),
    pytest.mark.usefixtures("worker"),
]


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    # Debian's Chromium: Playwright's own browser download cannot work here.
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


@pytest.fixture(scope="module")
async def console_url(
    settings: Settings, client: Client, db_pool: asyncpg.Pool
) -> AsyncIterator[str]:
    app = create_app(api_settings(settings), client, db_pool)
    async with served(app) as url:
        yield f"{url}/console"


SignIn = Callable[[str], Awaitable[Page]]


@pytest.fixture
async def sign_in(browser: Browser, console_url: str) -> AsyncIterator[SignIn]:
    """Opens console tabs, each with its own cookies, signed in as the actor given and
    following the live stream; closes them after the test."""
    contexts: list[BrowserContext] = []

    async def signed_in(actor: str) -> Page:
        context = await browser.new_context()
        contexts.append(context)
        page = await context.new_page()
        await page.goto(console_url)
        await page.get_by_label("Staff token").fill(token_of(actor))
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator("header")).to_contain_text(f"Signed in as {actor}")
        await expect(page.locator("#live")).to_have_text("live")
        # Gone after any reload or navigation: what follows happens on this very page.
        await page.evaluate("window.neverReloaded = true")
        return page

    yield signed_in
    for context in contexts:
        await context.close()


def row(page: Page, *texts: str) -> Locator:
    """The escalation whose row shows every one of `texts`."""
    found = page.locator("li.escalation")
    for text in texts:
        found = found.filter(has_text=text)
    return found


async def never_reloaded(page: Page) -> bool:
    return bool(await page.evaluate("window.neverReloaded === true"))


async def test_the_list_is_ordered_and_follows_changes_live(
    sign_in: SignIn, db_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    signs = VitalSigns(taken_at=datetime.now(UTC), spo2=85, heart_rate=112)
    course_id, reading_id = await course_with_reading(db_pool, signs)
    urgent = await seed(db_pool, Severity.URGENT, 25, course_id=course_id)
    page = await sign_in("dr-test")
    await expect(page.locator(f'li[data-id="{urgent}"]')).to_contain_text("raised 25 min ago")

    critical = await seed(db_pool, Severity.CRITICAL, 3, reading_id=reading_id, course_id=course_id)

    first = page.locator(f'li[data-id="{critical}"]')
    await expect(first).to_contain_text("SpO₂ 85%", timeout=SEEN_MS)
    await expect(first).to_contain_text("raised 3 min ago")
    ids = await page.locator("li.escalation").evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert ids.index(critical) < ids.index(urgent)
    assert await never_reloaded(page)
    await page.screenshot(path=tmp_path / "console-list.png", full_page=True)


async def test_a_critical_reading_appears_live_and_is_acknowledged_on_the_console(
    api: httpx.AsyncClient,
    clinic: ClinicApi,
    env: WorkflowEnvironment,
    client: Client,
    db_pool: asyncpg.Pool,
    sign_in: SignIn,
    tmp_path: Path,
) -> None:
    room = await scheduled_session(api, clinic, env, db_pool, "console")
    await skip_to_check_in(env, room.session)
    await room.act("check-in")
    nurse = await sign_in("nurse-test")
    doctor = await sign_in("dr-test")

    await room.vitals(GATEWAY, systolic=205, diastolic=125, heart_rate=92, spo2=97)

    raised = row(nurse, room.course_id, "bp_critical")
    await expect(raised).to_contain_text("BP 205/125", timeout=SEEN_MS)
    await expect(raised).to_contain_text(f"Session{room.session.number}")
    await expect(raised.locator('[data-field="severity"]')).to_have_text("critical")
    async with nurse.expect_response(lambda answer: answer.request.method == "POST") as posted:
        await raised.get_by_role("button", name="Acknowledge").click()
    assert (await posted.value).ok

    escalation_id = await raised.get_attribute("data-id")
    assert escalation_id is not None
    await quiet(client, escalation_id)
    handle = escalation_handle(client, escalation_id)
    state = await handle.query(Escalation.details)
    assert state.status is EscalationStatus.ACKNOWLEDGED
    assert state.acknowledged is not None
    assert (state.acknowledged.by, state.acknowledged.via) == ("nurse-test", AckChannel.CONSOLE)
    # The other console hears of it through the stream alone.
    seen = row(doctor, room.course_id, "bp_critical")
    await expect(seen).to_contain_text("Acknowledged by nurse-test", timeout=SEEN_MS)
    await expect(seen.get_by_role("button", name="Acknowledge")).to_be_hidden()
    await expect(raised.locator('[data-field="status"]')).to_have_text("acknowledged")
    assert await never_reloaded(nurse) and await never_reloaded(doctor)
    acted = await db_pool.fetchval(
        "SELECT actor FROM audit_log WHERE action = 'escalation.acknowledged_on_console' "
        "AND details->>'escalation_id' = $1",
        escalation_id,
    )
    assert acted == "nurse-test"
    # The course's pseudonym and vitals only: the patient's identity never reaches the page.
    text = await nurse.locator("body").inner_text()
    assert "Alex Example" not in text and "+15550100999" not in text
    await nurse.screenshot(path=tmp_path / "console-acknowledged.png", full_page=True)
