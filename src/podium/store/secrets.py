"""Queries for secret scopes and their (encrypted) secrets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from podium.store.tables import SecretRow, SecretScopeRow


def get_scope(session: Session, name: str) -> SecretScopeRow | None:
    return session.get(SecretScopeRow, name)


def add_scope(session: Session, name: str, actor: str | None, now: datetime) -> None:
    session.add(SecretScopeRow(name=name, created_by=actor, created_at=now))


def list_scopes(session: Session) -> list[SecretScopeRow]:
    return list(session.scalars(select(SecretScopeRow).order_by(SecretScopeRow.name)))


def delete_scope(session: Session, name: str) -> None:
    session.execute(delete(SecretRow).where(SecretRow.scope == name))
    session.execute(delete(SecretScopeRow).where(SecretScopeRow.name == name))


def put_secret(session: Session, scope: str, key: str, ciphertext: bytes,
               now: datetime) -> None:
    row = session.get(SecretRow, (scope, key))
    if row is None:
        session.add(SecretRow(scope=scope, key=key, ciphertext=ciphertext, updated_at=now))
    else:
        row.ciphertext, row.updated_at = ciphertext, now


def get_secret(session: Session, scope: str, key: str) -> SecretRow | None:
    return session.get(SecretRow, (scope, key))


def list_secrets(session: Session, scope: str) -> list[SecretRow]:
    return list(session.scalars(
        select(SecretRow).where(SecretRow.scope == scope).order_by(SecretRow.key)
    ))


def delete_secret(session: Session, scope: str, key: str) -> bool:
    """Whether there was such a secret."""
    result = session.execute(
        delete(SecretRow).where(SecretRow.scope == scope, SecretRow.key == key)
    )
    return bool(getattr(result, "rowcount", 0))
