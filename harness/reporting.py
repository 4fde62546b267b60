"""The main job: start the simulator (and the bridge), run the probes, write the matrix."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from simulators.coze import (
    CANONICAL_FRAMING,
    DEFAULT_PLATFORM,
    DEFAULT_TOKEN,
    FRAMING_VARIANTS,
    Catalogue,
    Framing,
    PlatformName,
    SimConfig,
    TokenGrant,
    coverage,
    create_app,
    local_tls,
    running,
)

from .bridge import create_bridge_app
from .drivers import Driver
from .matrix import PLATFORM_TITLES, CoverageNote, Matrix
from .probes import PROBES, FramingTarget, FramingVariant, ProbeContext, demo_tools, run_probes
from .probes.framing import STREAMS, quiet_late_writes
from .recorder import Normaliser
from .tap import RecordingApp

BRIDGE_TOKEN = None  # the simulator's http node sends no Authorization header of its own
ECHO_BOT, JOKE_WORKFLOW = "7390000000000000001", "7440000000000000001"  # what the framing probe reads, per framing
_FRAMING_BOT_BASE, _FRAMING_WORKFLOW_BASE = 7398000000000000000, 7448000000000000000
# What the loopback servers' ephemeral ports are called in the report (`http://127.0.0.1:PORT`...).
SIMULATOR_PORT, TLS_PORT, BRIDGE_PORT = "PORT", "TLS_PORT", "BRIDGE_PORT"


def _cozepy_driver(ca_file: Path) -> Driver:
    from .drivers.cozepy import CozepyDriver

    return CozepyDriver(ca_file)


def framing_catalogue(token: str) -> tuple[Catalogue, SimConfig, tuple[FramingVariant, ...]]:
    """What the framing probe reads: the echo bot and the joke workflow once per framing (the canonical one first),
    under fresh ids, and each framing as the probe sees it."""
    builtin = Catalogue.builtin()
    bot, workflow = builtin.bots[ECHO_BOT], builtin.workflows[JOKE_WORKFLOW]
    control = "the framing CONTRACT.md describes (the control)"
    framings: list[tuple[str, Framing, str, tuple[str, ...]]] = [("canonical", CANONICAL_FRAMING, control, STREAMS)]
    framings += [(name, v.framing, v.description, tuple(v.kinds)) for name, v in FRAMING_VARIANTS.items()]
    bots, workflows, variants = {}, {}, []
    for number, (name, framing, description, kinds) in enumerate(framings):
        bot_id, workflow_id = str(_FRAMING_BOT_BASE + number), str(_FRAMING_WORKFLOW_BASE + number)
        bots[bot_id] = bot.model_copy(update={"id": bot_id, "name": f"echo-bot-{name}", "framing": framing})
        workflows[workflow_id] = workflow.model_copy(
            update={"id": workflow_id, "name": f"joke-workflow-{name}", "framing": framing}
        )
        variants.append(FramingVariant(name, description, kinds, framing.linger_seconds, bot_id, workflow_id))
    config = SimConfig(tokens=[TokenGrant(token=token)])
    return Catalogue(bots=bots, workflows=workflows), config, tuple(variants)


def coverage_notes() -> list[CoverageNote]:
    """The simulator's coverage ceiling, as the report states it."""
    ceiling = coverage()
    return [
        CoverageNote(area=item.area, detail=item.detail, modelled=modelled, modes=item.modes)
        for modelled, items in ((True, ceiling.modelled), (False, ceiling.not_modelled))
        for item in items
    ]


def run_report(
    probes: list[str] | None = None,
    sdk_label: str = "",
    progress: Callable[[str], None] | None = None,
    token: str = DEFAULT_TOKEN,
    platforms: Sequence[PlatformName] = (DEFAULT_PLATFORM,),
    started: Callable[[str], None] | None = None,
    driver_for: Callable[[Path], Driver] | None = None,
) -> Matrix:
    """Start the simulator (once per platform profile) and the bridge on loopback, run the probes, stop
    them, return one matrix with a column set per platform.

    `driver_for`: makes the driver of the SDK to run, given the certificate authority of the run's TLS
    listener (for wss://); the driver is entered here and closed at the end. None: the installed cozepy, in
    this process (`harness.drivers.cozepy.CozepyDriver`).
    `token` is the one the simulator accepts and the probes send; it never appears in the matrix.
    `progress` gets a line per platform and per finished probe, `started` each probe as it begins.
    """
    if not platforms:
        raise ValueError("run_report needs at least one platform")
    catalogue = Catalogue.builtin()
    ids = {entry["name"]: entry["id"] for entry in catalogue.entries()}
    # loopback only, for the run's length; the Host, Origin and JSON checks still hold
    bridge_app = create_bridge_app(demo_tools.bridged, token=BRIDGE_TOKEN, insecure_no_auth=True, errors="body")
    matrix: Matrix | None = None
    servers: dict[str, str] = {}  # base URL -> the name its port gets in the report
    # a client that gives up on a stream while the in-process server still writes makes asyncio log
    # "socket.send() raised exception": expected when a probe stops reading, and not the report's to print
    with ExitStack() as stack:
        stack.enter_context(quiet_late_writes())
        tls = stack.enter_context(local_tls())
        bridge = stack.enter_context(running(bridge_app))
        make = driver_for or _cozepy_driver
        driver = stack.enter_context(make(Path(tls.ca_file)))
        servers[bridge.base_url] = BRIDGE_PORT
        framing = None
        if "framing" in (probes or PROBES):  # the framings on a simulator of their own
            framing_catalog, framing_config, variants = framing_catalogue(token)
            framing_tap = RecordingApp(create_app(framing_catalog, framing_config))
            framing_sim = stack.enter_context(running(framing_tap))  # type: ignore[arg-type]  # an ASGI app
            framing = FramingTarget(base_url=framing_sim.base_url, tap=framing_tap, variants=variants)
        for platform in platforms:
            app: Any = create_app(catalogue, SimConfig(tokens=[TokenGrant(token=token)], profile=platform))
            app = tap = RecordingApp(app)  # the wire evidence is taken on the server's side, for every SDK
            with running(app) as sim, running(app, tls=tls) as secure:
                servers[sim.base_url], servers[secure.base_url] = SIMULATOR_PORT, TLS_PORT
                if progress:
                    progress(
                        f"simulator ({PLATFORM_TITLES[platform]}) on {sim.base_url} and {secure.base_url}, "
                        f"bridge on {bridge.base_url}"
                    )
                ctx = ProbeContext(
                    base_url=sim.base_url,
                    token=token,
                    bridge_url=bridge.base_url,
                    scenario_ids=ids,
                    secure_url=secure.base_url,
                    ca_file=tls.ca_file,
                    platform=platform,
                    driver=driver,
                    tap=tap,
                    framing=framing,
                )
                matrix = run_probes(ctx, probes, progress, matrix, started)
    assert matrix is not None
    matrix.sdk_label = sdk_label
    matrix.coverage = coverage_notes()
    # Where the evidence enters the report: this run's ports, dates and log ids leave it, so the same
    # SDK against the same simulator gives the same report apart from `generated_at`.
    return matrix.normalised(Normaliser(servers))
