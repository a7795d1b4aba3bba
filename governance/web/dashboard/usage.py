"""How my data is used (/me/usage): the dataset releases and trained models that included the person, and what
protected them in each."""

from __future__ import annotations

import uuid
from typing import Any

from flask_babel import gettext as _

from governance.access.decorators import requires
from governance.consent import service as consent
from governance.db import get_session
from governance.gateway import service as gateway
from governance.training import service as training
from governance.web import present, sources
from governance.web.blueprint import bp
from governance.web.dashboard.layout import page
from governance.web.dashboard.subject import own_subject, own_subject_id


def usage_count(session: Any, subject_id: uuid.UUID) -> int:
    """How many releases and models included the person (the summaries on /me and on the erasure page)."""
    return len(gateway.releases_including(session, subject_id)) + len(training.models_including(session, subject_id))


def _k_anonymity(release: Any) -> str | None:
    per_person = ((release.manifest or {}).get("k_anonymity") or {}).get("unit") == "person"
    numbers = {"others": release.k_achieved - 1 if release.k_achieved else 0, "k": release.k_achieved}
    if release.k_achieved and per_person:
        return _(
            "k-anonymity: everything this dataset holds about you on age, place, device and dates is shared by "
            "at least %(others)d other people (k = %(k)d, required %(required)d); the recorded activity itself "
            "(items, values) is not anonymous",
            required=release.k_required,
            **numbers,
        )
    if release.k_achieved:
        return _(
            "k-anonymity: each row looks the same as rows of at least %(others)d other people "
            "(k = %(k)d, required %(required)d)",
            required=release.k_required,
            **numbers,
        )
    if release.k_required:
        return _("k-anonymity required (k \u2265 %(required)d)", required=release.k_required)
    return None


def _release_protections(release: Any) -> list[str]:
    """What protected the person in a dataset release, from the release's own record and manifest."""
    mode = gateway.release_mode_info(release)
    out = [_(mode.label)]  # the gateway's labels are in the catalog (governance/web/i18n.py)
    if release.pseudonym_mode == "stable":
        out.append(_("Pseudonymized (identifiers replaced by a code that stays the same for this recipient)"))
    elif release.pseudonym_mode:
        out.append(_("Pseudonymized (identifiers replaced by codes used in this dataset only)"))
    k_anonymity = _k_anonymity(release)
    if k_anonymity:
        out.append(k_anonymity)
    diversity = (release.manifest or {}).get("l_diversity") or {}
    if diversity.get("l_achieved"):
        out.append(
            _(
                "l-diversity of %(attribute)s (l = %(l)s)",
                attribute=present.humanize(diversity["attribute"]),
                l=diversity["l_achieved"],
            )
        )
    if mode.personal_data:
        out.append(_("No differential privacy: a dataset holds coarsened rows, not noisy statistics"))
    return out


def _model_protections(job: Any) -> list[str]:
    """What protected the person in a trained model, from the training job's privacy accounting."""
    out = [_("Trained on pseudonymized data")]
    epsilon = job.epsilon_spent or job.target_epsilon
    if epsilon:
        out.append(_("Differential privacy (\u03b5 = %(epsilon)s)", epsilon=present.format_decimal_text(epsilon, 2)))
    return out


def _release_rows(session: Any, subject_id: uuid.UUID, titles: dict[str, str]) -> list[dict[str, Any]]:
    recipients = {c["id"]: c["name"] for c in sources.clients(session)}
    rows = []
    for summary in gateway.releases_including(session, subject_id):
        release = gateway.get_release(session, summary.release_id)
        rows.append(
            {
                "at": summary.completed_at or summary.created_at,
                "purpose_title": titles.get(summary.purpose, summary.purpose),
                "recipient": recipients.get(summary.client_id, summary.client_id),
                "protections": _release_protections(release),
                "file_deleted": summary.status == "expired",
            }
        )
    return rows


def _model_rows(session: Any, subject_id: uuid.UUID, titles: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for model in training.models_including(session, subject_id):
        job = training.get_job(session, model.job_id)
        rows.append(
            {
                "at": model.trained_at,
                "name": present.label(present.MODEL_KIND_LABELS, model.kind, present.humanize(model.kind)),
                "purpose_title": titles.get(model.purpose, model.purpose),
                "protections": _model_protections(job),
                "flagged": model.flagged,
            }
        )
    return rows


@bp.get("/me/usage")
@requires("lineage.read", resource=own_subject)
def dashboard_usage() -> str:
    session, subject_id = get_session(), own_subject_id()
    titles = {p.key: present.purpose_title(p) for p in consent.purposes()}
    return page(
        "web/dashboard/usage.html",
        "web.dashboard_usage",
        releases=_release_rows(session, subject_id, titles),
        models=_model_rows(session, subject_id, titles),
    )
