"""`chorus approve`: a person's decision on an asset's variants — resuming the suspended schedule run when there is one,
recorded straight in the warehouse when there is not (embedded mode, or decided before the run reached the gate)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from campaign.errors import ChorusError


@dataclass(frozen=True)
class ApproveResult:
    how: str                  # "resumed" | "recorded"
    flow_run: str | None
    variants: tuple[str, ...]


async def _suspended_schedule_runs(campaign_id: str, asset_id: str) -> list[Any]:
    from prefect import get_client
    from prefect.client.schemas.filters import (FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterState,
                                                FlowRunFilterStateName)

    from campaign.manifest import load_manifest

    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["schedule"])),
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Suspended"]))),
        )
    out = []
    for run in runs:
        params = run.parameters or {}
        if params.get("asset_id") != asset_id:
            continue
        try:
            if load_manifest(params["manifest_path"]).id != campaign_id:
                continue
        except (ChorusError, KeyError):
            continue
        out.append(run)
    return out


def approve(campaign_id: str, asset_id: str, *, by: str, reject: bool = False, note: str | None = None) -> ApproveResult:
    from campaign.settings import Settings
    from flows.runtime import make_runtime
    from warehouse.approvals import record_decision, rendered_variants

    if not by.strip():
        raise ChorusError("an approval must say who decided", "pass --by \"Your Name\"")
    rt = make_runtime(Settings.from_env())
    with rt.warehouse() as con:
        variants = rendered_variants(con, campaign_id, asset_id)
    if not variants:
        raise ChorusError(f"{campaign_id}/{asset_id} has no rendered variants to approve",
                          "wait for the variants stage to finish (see the Prefect UI or `chorus query \"select * from variants\"`)")
    if os.environ.get("PREFECT_API_URL"):
        import asyncio

        from prefect.flow_runs import resume_flow_run

        runs = asyncio.run(_suspended_schedule_runs(campaign_id, asset_id))
        if runs:
            run_input = {"approved_by": by.strip(), "approve": not reject, "note": note or ""}
            for run in runs:
                resume_flow_run(run.id, run_input=run_input)
            # The resumed run records the decision itself (channel "prefect"), as a resume from the UI does.
            return ApproveResult("resumed", ", ".join(r.name for r in runs), tuple(variants))
    with rt.warehouse() as con:
        record_decision(con, campaign_id, asset_id, decision="rejected" if reject else "approved", decided_by=by,
                        variants=variants, channel="cli", note=note)
    return ApproveResult("recorded", None, tuple(variants))
