"""The secrets of one run as its engine drives it: ``{{secrets/<scope>/<key>}}`` values
read from the store and decrypted once each, and remembered per task, so that whatever
a task produced (state message, output, task values) is masked before it is recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from podium.core.values import UnresolvedReference, mask_obj, mask_text, secret_terms
from podium.errors import InternalError, InvalidArgument
from podium.executors import Outcome
from podium.secret_box import SecretBox, secret_box
from podium.settings import Settings
from podium.store import secrets as store


class RunSecrets:
    """Reads secrets for one run driver and tracks which task used which.

    Args:
        settings: where the secret key is (PODIUM_SECRET_KEY or PODIUM_HOME).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._box: SecretBox | None = None
        self._values: dict[tuple[str, str], str] = {}
        self._used: dict[str, set[str]] = {}  # task key -> values it resolved
        self._terms: dict[str, tuple[str, ...]] = {}

    def reader(self, session: Session, task_key: str) -> Callable[[str, str], str]:
        """A ``ValueContext.secret`` for ``task_key``: reads through ``session`` and
        remembers each value as one the task must not show."""

        def read(scope: str, key: str) -> str:
            value = self.read(session, scope, key)
            used = self._used.setdefault(task_key, set())
            if value not in used:
                used.add(value)
                self._terms.pop(task_key, None)
            return value

        return read

    def read(self, session: Session, scope: str, key: str) -> str:
        """The value of secret ``key`` of ``scope``.

        Raises:
            UnresolvedReference: there is no such secret, or it cannot be decrypted; the
                message names it and says how to add it.
        """
        found = self._values.get((scope, key))
        if found is not None:
            return found
        ref = f"{{{{secrets/{scope}/{key}}}}}"
        row = store.get_secret(session, scope, key)
        if row is None:
            raise UnresolvedReference(f"{ref}: {_missing(session, scope, key)}")
        try:
            if self._box is None:
                self._box = secret_box(self.settings)
            value = self._box.decrypt(row.ciphertext)
        except (InternalError, InvalidArgument) as exc:  # the key changed or is bad
            raise UnresolvedReference(f"{ref}: {exc}") from None
        self._values[(scope, key)] = value
        return value

    def terms(self, task_key: str) -> tuple[str, ...]:
        """What to mask in what ``task_key`` produces (empty: it used no secret)."""
        if task_key not in self._terms:
            self._terms[task_key] = secret_terms(self._used.get(task_key, ()))
        return self._terms[task_key]

    def mask(self, task_key: str, text: str) -> str:
        """``text`` with the secrets ``task_key`` used replaced by ``[REDACTED]``."""
        return mask_text(text, self.terms(task_key))

    def mask_outcome(self, task_key: str, outcome: Outcome) -> Outcome:
        """``outcome`` with the secrets ``task_key`` used masked in its message, output
        and task values."""
        terms = self.terms(task_key)
        if not terms:
            return outcome
        values: dict[str, Any] = mask_obj(outcome.task_values, terms)
        output: dict[str, Any] = mask_obj(outcome.output, terms)
        return replace(outcome, message=mask_text(outcome.message, terms),
                       task_values=values, output=output)


def _missing(session: Session, scope: str, key: str) -> str:
    if store.get_scope(session, scope) is None:
        return (
            f"no secret scope {scope!r}; create it with `podium secrets create-scope {scope}` "
            f"and add the key with `podium secrets put {scope} {key}` (API: "
            "/api/2.0/secrets/scopes/create and /api/2.0/secrets/put)"
        )
    return (
        f"secret scope {scope!r} has no key {key!r}; add it with "
        f"`podium secrets put {scope} {key}` (API: /api/2.0/secrets/put)"
    )
