from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import StringField, TextAreaField
from wtforms.validators import Length, Optional

from app.web.forms import PostedForm


class UploadForm(PostedForm):
    file_fields = frozenset({"certificate_file"})
    certificate_file = FileField("Certificate file (PEM or DER)")
    certificate_text = TextAreaField(
        "…or paste the certificate (PEM)", validators=[Optional(), Length(max=64 * 1024)]
    )
    label = StringField("Name (optional)", validators=[Optional(), Length(max=100)])


class CsrForm(PostedForm):
    csr = TextAreaField(
        "Certificate signing request (PEM)",
        validators=[Length(min=1, max=64 * 1024, message="Paste a CSR of at most 64 KiB.")],
    )
    label = StringField("Name (optional)", validators=[Optional(), Length(max=100)])
