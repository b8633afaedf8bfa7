"""The on-call console in real headless Chromium (Debian's, through Playwright), against the
real app served by uvicorn over the time-skipping server and the embedded Postgres."""

from __future__ import annotations

import os
import uuid
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
    Route,
    async_playwright,
    expect,
)
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from cli.handles import escalation_handle
from cli.localstack import quiet, served
from cli.room import ClinicApi
from domain.escalation import AckChannel, EscalationStatus, OnCallRole, Reassign, Severity
from domain.vitals import VitalSigns
from tests.console_rows import course_with_reading, seed
from tests.escalations import nurse_on_call, paged_escalation
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


async def test_one_clinic_is_shown_with_its_counts_and_each_wait_at_the_rung(
    sign_in: SignIn, db_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    clinic, other = f"clinic-{uuid.uuid4().hex[:8]}", f"clinic-{uuid.uuid4().hex[:8]}"
    waiting = await seed(db_pool, Severity.CRITICAL, 30, clinic_id=clinic, paged_minutes_ago=12)
    elsewhere = await seed(db_pool, Severity.URGENT, 2, clinic_id=other)
    page = await sign_in("dr-test")
    await expect(page.locator(f'li[data-id="{elsewhere}"]')).to_have_count(1)

    await page.get_by_label("Clinic").select_option(clinic)

    shown = page.locator(f'li[data-id="{waiting}"]')
    await expect(shown).to_contain_text("waiting 12 min")
    await expect(shown).to_contain_text("raised 30 min ago")
    await expect(page.locator(f'li[data-id="{elsewhere}"]')).to_have_count(0)
    critical = page.locator('#counts [data-severity="critical"]')
    await expect(critical).to_have_text("1 critical")
    await expect(page.locator('#counts [data-severity="urgent"]')).to_have_text("0 urgent")
    assert f"clinic={clinic}" in page.url
    # Live, within the clinic: another clinic's new escalation (written first) never shows.
    unseen = await seed(db_pool, Severity.CRITICAL, 0, clinic_id=other)
    seen = await seed(db_pool, Severity.CRITICAL, 0, clinic_id=clinic)
    await expect(page.locator(f'li[data-id="{seen}"]')).to_contain_text(
        "waiting under a minute", timeout=SEEN_MS
    )
    await expect(critical).to_have_text("2 critical")
    assert await page.locator(f'li[data-id="{unseen}"]').count() == 0
    # Every clinic again.
    await page.get_by_label("Clinic").select_option("")
    await expect(page.locator(f'li[data-id="{unseen}"]')).to_have_count(1)
    assert await never_reloaded(page)
    await page.screenshot(path=tmp_path / "console-clinic.png", full_page=True)


async def lose_the_answer(route: Route) -> None:
    """Send the request on to the server, then fail it as a dropped connection would."""
    answer = await route.fetch()
    assert answer.ok, await answer.text()
    await route.abort("connectionreset")


async def test_an_escalation_is_reassigned_on_the_console_to_someone_on_call(
    client: Client, db_pool: asyncpg.Pool, sign_in: SignIn, tmp_path: Path
) -> None:
    paged = await paged_escalation(client, db_pool)
    escalation_id, clinic = paged.handle.id, paged.trigger.clinic_id
    psychiatrist, director = (f"{who}-{uuid.uuid4().hex[:8]}" for who in ("psych", "director"))
    await nurse_on_call(db_pool, clinic, psychiatrist, OnCallRole.PSYCHIATRIST)
    page = await sign_in("dr-test")
    shown = page.locator(f'li[data-id="{escalation_id}"]')
    await expect(shown).to_contain_text(f"assigned to {paged.nurse}", timeout=SEEN_MS)
    choices = shown.get_by_label("Reassign to")

    await shown.get_by_text("Reassign…").click()
    await choices.select_option(f"on_call_psychiatrist/{psychiatrist}")
    # Their shift ends before the choice is sent: refused, and said why.
    await db_pool.execute(
        "UPDATE on_call_schedule SET ends_at = now() WHERE staff_id = $1", psychiatrist
    )
    await shown.get_by_role("button", name="Reassign").click()
    await expect(shown.locator('[data-field="error"]')).to_have_text(
        "not on call at this clinic now"
    )
    # Opened again, the list is who is on call now.
    await nurse_on_call(db_pool, clinic, director, OnCallRole.MEDICAL_DIRECTOR)
    await shown.get_by_text("Reassign…").click()
    await shown.get_by_text("Reassign…").click()
    await expect(choices.locator("option")).to_have_text(
        [
            "Who is on call…",
            f"Test {paged.nurse} ({paged.nurse}), on-call nurse",
            f"Test {director} ({director}), medical director",
        ]
    )
    await choices.select_option(f"medical_director/{director}")
    # Done, but its answer lost on the way back: the page says so, and the retry is the same
    # action (its Idempotency-Key), done once.
    await page.route("**/reassign*", lose_the_answer)
    await shown.get_by_role("button", name="Reassign").click()
    await expect(shown.locator('[data-field="error"]')).to_contain_text("No answer")
    await page.unroute("**/reassign*", lose_the_answer)
    async with page.expect_response(lambda answer: answer.request.method == "POST") as posted:
        await shown.get_by_role("button", name="Reassign").click()
    assert (await posted.value).ok

    await expect(shown).to_contain_text(f"assigned to {director}", timeout=SEEN_MS)
    await expect(shown.locator('[data-field="error"]')).to_have_text("")
    await expect(shown.locator("details.reassign")).not_to_have_attribute("open", "")
    await quiet(client, escalation_id)
    state = await escalation_handle(client, escalation_id).query(Escalation.details)
    assert state.reassigned == Reassign(
        by="dr-test", to_staff=director, to_role=OnCallRole.MEDICAL_DIRECTOR
    )
    assert [p.staff_id for p in state.pages] == [paged.nurse, director]
    acted = await db_pool.fetch(
        "SELECT actor, stage FROM audit_log WHERE action = 'escalation.reassigned_on_console' "
        "AND details->>'escalation_id' = $1 ORDER BY id",
        escalation_id,
    )
    # The refused choice never reached the workflow; the second, sent twice, was done once.
    assert [(r["actor"], r["stage"]) for r in acted] == [("dr-test", "intent"), ("dr-test", "done")]
    assert await never_reloaded(page)
    await page.screenshot(path=tmp_path / "console-reassigned.png", full_page=True)
