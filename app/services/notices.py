"""Telling users what happened to their account: a notices list, and e-mail when configured."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from sqlalchemy.orm import Session

from app.models import Notice, User, utcnow

log = logging.getLogger(__name__)


class Mailer:
    """Sends plain-text mail through ``smtp://[user:pass@]host:port`` (``smtps://`` for TLS)."""

    def __init__(self, url: str, sender: str) -> None:
        self.url = url
        self.sender = sender

    def send(self, to: str, subject: str, body: str) -> None:
        if not self.url or not to:
            return
        parts = urlsplit(self.url)
        smtp_cls = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
        try:
            msg = EmailMessage()
            msg["From"] = self.sender
            msg["To"] = to
            msg["Subject"] = one_line(subject)
            msg.set_content(body)
            with smtp_cls(parts.hostname or "localhost", parts.port or 25, timeout=10) as smtp:
                if parts.username:
                    smtp.login(unquote(parts.username), unquote(parts.password or ""))
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException, ValueError) as exc:
            # A mail failure never undoes the change it reports; the notice list still has it.
            log.warning("could not send mail to user: %s", exc)


NULL_MAILER = Mailer("", "")


def one_line(text: str) -> str:
    """``text`` as one header line: a certificate's subject may carry CR, LF or other
    control characters, which a mail header must not (RFC 5322 §2.2)."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def notify(
    db: Session, user: User, tag: str, message: str, *, mailer: Mailer = NULL_MAILER
) -> None:
    """Add a notice for ``user`` (in the caller's transaction) and mail it when configured."""
    db.add(Notice(user_id=user.id, tag=tag, message=message[:500], created_at=utcnow()))
    if user.email:
        mailer.send(user.email, "Keystile: " + message[:80], message)
