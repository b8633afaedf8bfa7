"""The README's contract and settings match the code."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio import workflow

from domain.contract import SEARCH_ATTRIBUTES, TASK_QUEUE
from worker.main import WORKFLOWS
from worker.settings import Settings

README = (Path(__file__).parent.parent / "README.md").read_text()


@pytest.mark.parametrize("alias", [f.alias for f in Settings.model_fields.values()])
def test_every_setting_is_documented(alias: str) -> None:
    assert alias and f"`{alias}`" in README


@pytest.mark.parametrize("cls", WORKFLOWS, ids=lambda c: c.__name__)
def test_every_workflow_and_message_is_documented(cls: type) -> None:
    definition = workflow._Definition.must_from_class(cls)
    names = [definition.name, *definition.updates, *definition.signals, *definition.queries]
    assert [n for n in names if n and f"`{n}`" not in README] == []


def test_task_queue_and_search_attributes_are_documented() -> None:
    names = [TASK_QUEUE, *(key.name for key in SEARCH_ATTRIBUTES)]
    assert [n for n in names if f"`{n}`" not in README] == []
