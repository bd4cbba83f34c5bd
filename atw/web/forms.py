"""Flask-WTF forms: the filter panel (a GET form, CSRF off) mirroring the API's parameters, the
upload form and the API-key sign-in (both CSRF on)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Optional

from atw.query.filters import FilterError

ACCEPT = "image/jpeg,image/png,image/webp,image/heic,image/heif,image/tiff,.heic,.heif,.tif,.tiff"


class FilterForm(FlaskForm):
    """Rendering of the filter panel. Validation is atw.query.filters.parse (one rule set for the
    pages and the API); its FilterError is shown next to the field it names."""

    class Meta:
        csrf = False  # a GET form: every result page is a shareable URL

    start = DateField("From", validators=[Optional()])
    end = DateField("To", validators=[Optional()])
    estimated = SelectField(
        "Photos with estimated time",
        choices=[SelectChoice("include", "include"), SelectChoice("exclude", "exclude")],
        default="include",
    )
    classes = StringField(
        "Classes", render_kw={"placeholder": "beach, seashore, person", "autocomplete": "off"}
    )
    match = RadioField(
        "Match", choices=[SelectChoice("any", "any"), SelectChoice("all", "all")], default="any"
    )
    source = SelectField(
        "Source",
        choices=[
            SelectChoice("any", "any"),
            SelectChoice("imagenet", "ImageNet"),
            SelectChoice("coco", "COCO objects"),
        ],
        default="any",
    )
    min_score = StringField(
        "Confidence ≥", render_kw={"type": "range", "min": "0", "max": "1", "step": "0.05"}
    )
    min_count = IntegerField(
        "At least N objects", validators=[Optional()], render_kw={"min": "1", "placeholder": "1"}
    )
    lat = StringField("Latitude", render_kw={"inputmode": "decimal", "placeholder": "38.72"})
    lon = StringField("Longitude", render_kw={"inputmode": "decimal", "placeholder": "-9.14"})
    radius_km = StringField("Radius km", render_kw={"inputmode": "decimal", "placeholder": "20"})
    has_gps = SelectField(
        "GPS",
        choices=[
            SelectChoice("", "any"),
            SelectChoice("yes", "with GPS"),
            SelectChoice("no", "without GPS"),
        ],
        default="",
    )
    # Places by name (atw.query.place_filter): completed from the filtered photos by places.js.
    country = StringField(
        "Country", render_kw={"placeholder": "Portugal, ES", "autocomplete": "off"}
    )
    region = StringField("Region", render_kw={"placeholder": "Lisbon", "autocomplete": "off"})
    place = StringField("Place", render_kw={"placeholder": "Sintra", "autocomplete": "off"})
    camera_make = StringField("Camera make", render_kw={"list": "camera-makes"})
    camera_model = StringField("Camera model", render_kw={"list": "camera-models"})
    folder = StringField("Folder", render_kw={"placeholder": "/photos/2014"})
    # A trip's id, set by the Trips page's links; the panel shows the trip's name (_filters.html).
    trip = HiddenField("Trip")
    sort = SelectField(
        "Sort",
        choices=[
            SelectChoice("newest", "newest first"),
            SelectChoice("oldest", "oldest first"),
            SelectChoice("nearest", "nearest to the centre"),
        ],
        default="newest",
    )

    def show_error(self, exc: FilterError) -> str:
        """Attach a FilterError to the field it names, in the words of the form ("From: not a
        date (…)"), and to the form's list; returns those words."""
        field = self._fields.get(exc.param)
        words = f"{field.label.text}: {exc.reason}" if field is not None else exc.message
        if field is not None:
            field.errors = [*field.errors, words]
        self.form_errors.append(words)
        return words


def field_label(param: str) -> str:
    """The filter panel's label of a query parameter (the parameter itself when it has none)."""
    field = getattr(FilterForm, param, None)
    kwargs = getattr(field, "args", ())
    return str(kwargs[0]) if kwargs else param


class UploadForm(FlaskForm):
    """The upload page: several photos; types are checked by content (atw.services), not here."""

    files = MultipleFileField("Photos", render_kw={"accept": ACCEPT})
    # The file's lastModified (ms since 1970) when the page's script sends one file per request:
    # it becomes the copy's mtime, the capture time of a photo without EXIF dates.
    last_modified = HiddenField()


class KeyForm(FlaskForm):
    """The /key page: a browser signs in with an API key (CSRF on)."""

    key = PasswordField("API key", validators=[DataRequired()])
    next = HiddenField()
