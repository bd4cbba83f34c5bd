"""The upload form (Flask-WTF, CSRF on): several photos; types are checked by content, not here."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, MultipleFileField

ACCEPT = "image/jpeg,image/png,image/webp,image/heic,image/heif,image/tiff,.heic,.heif,.tif,.tiff"


class UploadForm(FlaskForm):
    files = MultipleFileField("Photos", render_kw={"accept": ACCEPT})
    # The file's lastModified (ms since 1970) when the page's script sends one file per request:
    # it becomes the copy's mtime, the capture time of a photo without EXIF dates.
    last_modified = HiddenField()
