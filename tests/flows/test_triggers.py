"""With Prefect's test harness: the `chorus.captions.ready` event of the caption stage starts the variants deployment
(as prefect.yaml declares it) with the right parameters; the same event from an embedded run starts nothing."""
from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from flows import events
from flows.serve import deployment_kwargs, load_flow, load_specs


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    from prefect.settings import PREFECT_HOME, PREFECT_SERVER_ANALYTICS_ENABLED, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    home = tmp_path_factory.mktemp("prefect-home")
    with temporary_settings({PREFECT_HOME: str(home), PREFECT_SERVER_ANALYTICS_ENABLED: False}):
        with prefect_test_harness(server_startup_timeout=90):
            yield


def _spec(flow_name: str):
    for spec in load_specs():
        if load_flow(spec).name == flow_name:
            return spec
    raise AssertionError(f"prefect.yaml has no deployment of the {flow_name!r} flow")


async def _runs_of(deployment_id) -> list:
    from prefect import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    async with get_client() as client:
        return await client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))


def _wait_for_runs(deployment_id, count: int, timeout_s: float = 60.0) -> list:
    deadline = time.monotonic() + timeout_s
    while True:
        runs = asyncio.run(_runs_of(deployment_id))
        if len(runs) >= count or time.monotonic() > deadline:
            return runs
        time.sleep(0.5)


def test_captions_ready_starts_the_variants_deployment_with_the_event_parameters(harness):
    from prefect.events.clients import get_events_client  # noqa: F401  (the harness's API URL is in effect here)
    from prefect.events.utilities import emit_event
    from prefect.events.worker import EventsWorker

    spec = _spec("variants")
    deployment = load_flow(spec).to_deployment(**deployment_kwargs(spec))
    deployment_id = deployment.apply()

    campaign, asset = "first-vote", f"clip-{uuid.uuid4().hex[:6]}"
    manifest_path = "/campaigns/first-vote/campaign.yaml"
    # From an embedded run (`chorus run` on the same server): must not start the deployment ...
    emit_event(events.CAPTIONS_READY, resource=events.asset_resource(campaign, "embedded-asset", mode=events.EMBEDDED),
               payload={"manifest_path": "/elsewhere.yaml"})
    # ... another stage's event about the asset: neither ...
    emit_event(events.VARIANTS_READY, resource=events.asset_resource(campaign, asset, mode=events.SERVER),
               payload={"manifest_path": manifest_path})
    # ... and from the caption deployment: must.
    emit_event(events.CAPTIONS_READY, resource=events.asset_resource(campaign, asset, mode=events.SERVER),
               payload={"manifest_path": manifest_path, "language": "en", "cue_count": 3})
    EventsWorker.drain_all()

    runs = _wait_for_runs(deployment_id, 1)
    assert len(runs) == 1, "the captions.ready event did not start the variants deployment"
    assert runs[0].parameters == {"manifest_path": manifest_path, "asset_id": asset}
    # Give a wrongly matching trigger the same time again to fire; still exactly one run.
    time.sleep(2)
    runs = asyncio.run(_runs_of(deployment_id))
    assert [r.parameters["asset_id"] for r in runs] == [asset]
