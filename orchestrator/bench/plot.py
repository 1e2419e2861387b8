"""``--plot FILE.png``: throughput and latency percentiles over time (1 s buckets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on a server
    import matplotlib.pyplot as plt

    rows = result["timeline"]
    t = [r["t"] for r in rows]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 8), sharex=True)
    for key, label in (("starts", "starts/s"), ("completed", "workflows completed/s"),
                       ("task_executions", "task executions/s")):  # fmt: skip
        top.plot(t, [r[key] for r in rows], label=label)
    top.set_ylabel("per second")
    events = top.twinx()
    events.plot(t, [r["events"] for r in rows], color="grey", linestyle=":", label="events/s")
    events.set_ylabel("events/s")
    top.legend(loc="upper left")
    top.set_title(_title(result))
    for key, colour in (("start_latency_ms", "tab:blue"), ("dispatch_latency_ms", "tab:green"),
                        ("workflow_latency_ms", "tab:red")):  # fmt: skip
        for p, style in (("p50", "-"), ("p99", "--")):
            values = [r[key][p] for r in rows]
            bottom.plot(t, values, style, color=colour, label=f"{key[:-11]} {p}")
    bottom.set_yscale("symlog")
    bottom.set_ylabel("ms (by intended start / pickup second)")
    bottom.set_xlabel("seconds since the load began")
    bottom.legend(loc="upper left", fontsize="small", ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _title(result: dict[str, Any]) -> str:
    s = result["settings"]
    load = f"burst {s['burst']}" if s["burst"] else f"{s['rate']:g} wf/s for {s['duration_s']:g} s"
    return (
        f"{load}, {s['processors']} processor(s), {s['worker_processes']} worker process(es), "
        f"{s['partitions']} partitions, {s['payload_bytes']} B payload"
    )
