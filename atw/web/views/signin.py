"""Signing a browser in with an API key (/key), so the upload page works when keys are set."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from atw.web import apikeys
from atw.web.forms import KeyForm

bp = Blueprint("auth", __name__)


@bp.route("/key", methods=["GET", "POST"])
def key():  # type: ignore[no-untyped-def]
    form = KeyForm()
    code = 200
    if form.validate_on_submit():
        if apikeys.sign_in(form.key.data or ""):
            return redirect(apikeys.safe_next(form.next.data))
        form.key.errors = ["This is not a valid API key."]
        code = 403
    elif request.method == "GET":
        form.next.data = request.args.get("next", "")
    return render_template(
        "key.html",
        form=form,
        required=apikeys.keys_required(),
        signed_in=apikeys.browser_signed_in(),
    ), code


@bp.post("/key/forget")
def forget():  # type: ignore[no-untyped-def]
    apikeys.sign_out()
    return redirect(url_for("pages.home"))
