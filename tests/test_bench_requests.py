"""The throughput bench's count of what the dev server was asked: from its Prometheus scrape,
its frontend's requests by operation, the workers' long polls aside."""

from __future__ import annotations

from bench.live import requests_served


def served(operation: str, service: str, count: int, namespace: str = "default") -> str:
    """A line of the counter as the dev server (Temporal CLI 1.9) writes it."""
    labels = f'namespace="{namespace}",operation="{operation}",service_name="{service}"'
    return f"service_requests{{{labels}}} {count}\n"


SCRAPE = "".join(
    [
        "# HELP service_requests service_requests counter\n",
        "# TYPE service_requests counter\n",
        served("DescribeWorkflowExecution", "frontend", 12),
        served("DescribeWorkflowExecution", "history", 12),
        served("PollWorkflowTaskQueue", "frontend", 40),
        served("RespondWorkflowTaskCompleted", "frontend", 7),
        served("GetSystemInfo", "frontend", 1, namespace="_unknown_"),
        served("AddWorkflowTask", "matching", 9),
        "# HELP service_latency service_latency histogram\n",
        'service_latency_bucket{operation="GetSystemInfo",service_name="frontend",le="0.001"} 1\n',
    ]
)


def test_the_frontends_requests_are_counted_by_operation_long_polls_aside() -> None:
    assert requests_served(SCRAPE) == {
        "DescribeWorkflowExecution": 12,
        "RespondWorkflowTaskCompleted": 7,
        "GetSystemInfo": 1,
    }
