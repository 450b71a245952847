"""Queries for users and their API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session

from podium.store.tables import JobPermissionRow, TokenRow, UserRow


def find_user(session: Session, user_name: str) -> UserRow | None:
    return session.scalars(select(UserRow).where(UserRow.user_name == user_name)).first()


def ensure_user(session: Session, user_name: str, now: datetime) -> UserRow:
    """The user called ``user_name``, created if new; the very first user is an admin."""
    row = find_user(session, user_name)
    if row is None:
        first = not session.scalar(select(func.count()).select_from(UserRow))
        row = UserRow(user_name=user_name, is_admin=first, created_at=now)
        session.add(row)
        session.flush()
    return row


def list_users(session: Session) -> list[UserRow]:
    return list(session.scalars(select(UserRow).order_by(UserRow.user_id)))


def add_token(session: Session, token_id: str, user_id: int, token_hash: str, comment: str,
              now: datetime, expires_at: datetime | None) -> None:
    session.add(TokenRow(token_id=token_id, user_id=user_id, token_hash=token_hash,
                         comment=comment, created_at=now, expires_at=expires_at))


# Built once: every API call checks its token.
_USER_BY_TOKEN = select(UserRow).join(TokenRow, TokenRow.user_id == UserRow.user_id).where(
    TokenRow.token_hash == bindparam("token_hash"),
    TokenRow.expires_at.is_(None) | (TokenRow.expires_at > bindparam("now")),
)


def user_by_token_hash(session: Session, token_hash: str, now: datetime) -> UserRow | None:
    """The owner of an unexpired token with this hash."""
    return session.scalars(_USER_BY_TOKEN, {"token_hash": token_hash, "now": now}).first()


def list_tokens(session: Session, user_id: int | None = None) -> list[tuple[TokenRow, str]]:
    """Tokens with their owner's name, oldest first (only ``user_id``'s when given)."""
    query = (select(TokenRow, UserRow.user_name)
             .join(UserRow, TokenRow.user_id == UserRow.user_id)
             .order_by(TokenRow.created_at, TokenRow.token_id))
    if user_id is not None:
        query = query.where(TokenRow.user_id == user_id)
    return [(token, name) for token, name in session.execute(query)]


def get_token(session: Session, token_id: str) -> TokenRow | None:
    return session.get(TokenRow, token_id)


def delete_token(session: Session, token_id: str) -> None:
    session.execute(delete(TokenRow).where(TokenRow.token_id == token_id))


def count_admins(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(UserRow)
                              .where(UserRow.is_admin.is_(True))) or 0)


def delete_user(session: Session, user: UserRow) -> None:
    """Remove ``user``, their tokens and the job permissions granted to them by name."""
    session.execute(delete(TokenRow).where(TokenRow.user_id == user.user_id))
    session.execute(delete(JobPermissionRow).where(
        (JobPermissionRow.principal_kind == "user")
        & (JobPermissionRow.principal == user.user_name)))
    session.delete(user)
