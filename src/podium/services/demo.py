"""The first minute (``podium server --demo``): the seed pipeline and the UI's job
templates stored as jobs, a local admin with a fresh sign-in token, and one run started
for the server's engine to execute."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from podium.core import pause_settings
from podium.engine import utcnow
from podium.errors import PodiumError
from podium.services import jobs
from podium.services.auth import Principal, create_token
from podium.services.context import Podium
from podium.services.runs import run_now
from podium.spec import load_job
from podium.store import jobs as job_queries
from podium.store import users

logger = logging.getLogger(__name__)

DEMO_ADMIN = "admin"
TEMPLATE_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True, slots=True)
class DemoStart:
    """What ``start_demo`` did: the job and run to look at, and the admin's new token."""

    job_id: int
    run_id: int
    user_name: str
    token: str
    templates: list[str] = field(default_factory=list)  # names of the template jobs stored
    skipped: list[str] = field(default_factory=list)  # "file: why" for templates left out


def start_demo(podium: Podium, pipeline: Path, templates: Path | None = None) -> DemoStart:
    """Store ``pipeline`` (and each template in ``templates``, when that folder exists) as
    jobs of the local admin, by name, so a second start updates rather than duplicates;
    make the admin if new; start one run of ``pipeline``; and return a new token.

    A new token is made on every start: tokens are stored hashed, so an earlier one
    cannot be shown again (earlier ones stay valid until revoked).

    Raises:
        InvalidJobSpec: ``pipeline`` is not a valid job (a template that is not valid is
            skipped and reported in ``DemoStart.skipped`` instead).
    """
    admin = Principal(DEMO_ADMIN, is_admin=True)
    _, token = create_token(podium, DEMO_ADMIN, comment="podium server --demo")
    with podium.sessions.begin() as session:
        # Made an admin even when the home had users before: whoever starts the server
        # owns the home's files, as the CLI's local principal does.
        users.ensure_user(session, DEMO_ADMIN, utcnow()).is_admin = True
    seed = load_job(pipeline)
    job_id = jobs.save_job(podium, seed, admin)
    stored, skipped = _store_templates(podium, templates, admin, {seed.spec.name},
                                       podium.settings.workspace)
    run_id = run_now(podium, job_id, admin)
    return DemoStart(job_id, run_id, DEMO_ADMIN, token, stored, skipped)


def _store_templates(podium: Podium, folder: Path | None, admin: Principal,
                     taken: set[str], workspace: Path) -> tuple[list[str], list[str]]:
    """Each template file of ``folder`` stored as a job (relative task paths start in
    ``workspace``) unless a job has its name already (so what a user changed stays), with
    its schedule and triggers paused: the demo starts nothing by itself but the one run.
    A template that is not valid is skipped with the reason; one named like the seed
    pipeline is left out."""
    stored: list[str] = []
    skipped: list[str] = []
    if folder is None or not folder.is_dir():
        return stored, skipped
    for path in sorted(folder.iterdir()):
        if path.suffix not in TEMPLATE_SUFFIXES:
            continue
        try:
            data = load_job(path).spec.model_dump(mode="json", exclude_defaults=True)
            spec, _ = jobs.validate_settings({**data, **pause_settings(data, "PAUSED")},
                                             str(path))
        except PodiumError as exc:
            logger.warning("template %s not loaded: %s", path, exc)
            skipped.append(f"{path.name}: {str(exc).splitlines()[0]}")
            continue
        if spec.name in taken:
            continue
        taken.add(spec.name)
        with podium.sessions.begin() as session:
            if job_queries.find_job_by_name(session, spec.name) is None:
                jobs.store_by_name(session, spec, str(workspace), admin, utcnow())
        stored.append(spec.name)
    return stored, skipped
