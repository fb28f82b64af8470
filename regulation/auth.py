"""Staff credentials: argon2id password hashes, bearer tokens (only their SHA-256 is kept),
console sessions with a CSRF token, and login throttling in Redis (per account and per
client address)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from runtime.clock import now

from .config import RegulationSettings
from .models import ApiToken, Staff
from .roles import ROLES

USERNAME_MAX = 64
PASSWORD_MIN = 8


class LoginThrottled(Exception):
    """Too many failed logins for this account or address; retry after `retry_after` s."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; retry in {retry_after} s")
        self.retry_after = retry_after


class BadCredentials(Exception):
    pass


def password_hasher(settings: RegulationSettings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib
    )


def hash_password(settings: RegulationSettings, password: str) -> str:
    return password_hasher(settings).hash(password)


def check_password_strength(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < PASSWORD_MIN:
        return f"le mot de passe doit compter au moins {PASSWORD_MIN} caractères"
    if len(password) > 256:
        return "le mot de passe est trop long"
    return None


def create_staff(
    session: Session,
    settings: RegulationSettings,
    *,
    username: str,
    role: str,
    password: str,
    display_name: str | None = None,
) -> Staff:
    """A new account (the caller commits). Raises ValueError with a French reason."""
    username = username.strip()
    if not username or len(username) > USERNAME_MAX or not username.isprintable():
        raise ValueError("identifiant invalide")
    if role not in ROLES:
        raise ValueError(f"rôle inconnu : {role}")
    weak = check_password_strength(password)
    if weak:
        raise ValueError(weak)
    # Hash before touching the database: no transaction (a SQLite write lock) is held
    # during the argon2 work.
    password_hash = hash_password(settings, password)
    if session.scalars(select(Staff.id).where(Staff.username == username)).first():
        raise ValueError(f"l'identifiant {username} existe déjà")
    staff = Staff(
        username=username,
        display_name=(display_name or "").strip() or None,
        role=role,
        password_hash=password_hash,
        active=True,
        session_epoch=0,
        presence="offline",
        created_at=now(),
    )
    session.add(staff)
    session.flush()
    return staff


def set_password(
    session: Session, settings: RegulationSettings, staff: Staff, password: str
) -> None:
    weak = check_password_strength(password)
    if weak:
        raise ValueError(weak)
    staff.password_hash = hash_password(settings, password)  # the caller's row is loaded
    staff.session_epoch += 1
    revoke_all_tokens(session, staff)


def deactivate(session: Session, staff: Staff) -> None:
    staff.active = False
    staff.session_epoch += 1
    revoke_all_tokens(session, staff)


# -- throttling ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Throttle:
    client: redis.Redis
    settings: RegulationSettings

    def _keys(self, username: str, address: str) -> tuple[str, str]:
        account = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
        return f"sas:auth:fail:account:{account}", f"sas:auth:fail:address:{address}"

    def check(self, username: str, address: str) -> None:
        account_key, address_key = self._keys(username, address)
        pipe = self.client.pipeline(transaction=False)
        pipe.get(account_key)
        pipe.ttl(account_key)
        pipe.get(address_key)
        pipe.ttl(address_key)
        account_count, account_ttl, address_count, address_ttl = pipe.execute()
        limits = (
            (account_count, account_ttl, self.settings.login_max_failures_per_account),
            (address_count, address_ttl, self.settings.login_max_failures_per_address),
        )
        for count, ttl, limit in limits:
            if count is not None and int(count) >= limit:
                raise LoginThrottled(max(1, int(ttl)))

    def failed(self, username: str, address: str) -> None:
        window = self.settings.login_throttle_window_s
        pipe = self.client.pipeline(transaction=True)
        for key in self._keys(username, address):
            # The window starts at the first failure (SET NX EX, then INCR; Redis 6 has
            # no EXPIRE NX).
            pipe.set(key, 0, ex=window, nx=True)
            pipe.incr(key)
        pipe.execute()

    def succeeded(self, username: str, address: str) -> None:
        self.client.delete(self._keys(username, address)[0])


_DUMMY_HASHES: dict[tuple[int, int], str] = {}


def authenticate(
    session: Session,
    settings: RegulationSettings,
    throttle: Throttle,
    *,
    username: str,
    password: str,
    address: str,
) -> Staff:
    """The active account for these credentials; raises LoginThrottled or BadCredentials."""
    throttle.check(username, address)
    found = session.scalars(select(Staff).where(Staff.username == username.strip())).first()
    staff_id = found.id if found is not None and found.active else None
    stored_hash = found.password_hash if staff_id is not None and found is not None else None
    # End the read before the argon2 work: no transaction (a SQLite write lock) is held
    # while hashing, so concurrent logins never block the service.
    session.rollback()
    hasher = password_hasher(settings)
    if staff_id is None or stored_hash is None:
        # Same work as a real check, so timing does not tell which accounts exist.
        cost = (settings.argon2_time_cost, settings.argon2_memory_kib)
        if cost not in _DUMMY_HASHES:
            _DUMMY_HASHES[cost] = hasher.hash(secrets.token_hex(8))
        with contextlib.suppress(VerificationError):
            hasher.verify(_DUMMY_HASHES[cost], password)
        throttle.failed(username, address)
        raise BadCredentials()
    try:
        hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        throttle.failed(username, address)
        raise BadCredentials() from None
    throttle.succeeded(username, address)
    rehashed = hasher.hash(password) if hasher.check_needs_rehash(stored_hash) else None
    staff = session.get(Staff, staff_id)
    if staff is None or not staff.active:
        raise BadCredentials()
    if rehashed is not None and staff.password_hash == stored_hash:
        staff.password_hash = rehashed
    return staff


# -- bearer tokens -------------------------------------------------------------------------


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, settings: RegulationSettings, staff: Staff) -> str:
    """A new bearer token for `staff` (the caller commits); only its hash is stored."""
    token = secrets.token_urlsafe(32)
    moment = now()
    session.add(
        ApiToken(
            staff_id=staff.id,
            token_hash=token_digest(token),
            created_at=moment,
            expires_at=moment + timedelta(seconds=settings.api_token_ttl_s),
        )
    )
    return token


# Built once: every staff API request runs it, and building it anew each time was about a
# third of the check's cost.
_STAFF_FOR_TOKEN = (
    select(Staff)
    .join(ApiToken, ApiToken.staff_id == Staff.id)
    .where(
        ApiToken.token_hash == bindparam("digest"),
        ApiToken.revoked_at.is_(None),
        ApiToken.expires_at > bindparam("now"),
        Staff.active.is_(True),
    )
)


def staff_for_token(session: Session, token: str) -> Staff | None:
    """The active staff member a live token (not revoked, not expired) belongs to: one
    query, since every staff API request asks."""
    return session.scalars(_STAFF_FOR_TOKEN, {"digest": token_digest(token), "now": now()}).first()


def revoke_token(session: Session, token: str) -> bool:
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == token_digest(token), ApiToken.revoked_at.is_(None))
        .values(revoked_at=now())
    )
    return bool(getattr(result, "rowcount", 0))


def revoke_all_tokens(session: Session, staff: Staff) -> None:
    session.execute(
        update(ApiToken)
        .where(ApiToken.staff_id == staff.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now())
    )


# -- CSRF ----------------------------------------------------------------------------------


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    return bool(expected and given and hmac.compare_digest(expected, given))
