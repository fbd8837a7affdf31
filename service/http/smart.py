"""The monitoring timeline's SMART on FHIR app: EHR launch (`/smart/launch`), the redirect back with the code
(`/smart/redirect`), and the page it draws. Nothing is kept beyond the launch: the state, PKCE verifier and FHIR
server ride in a signed, HttpOnly cookie for at most LAUNCH_SECONDS; the token and the patient's data exist only
while the page is drawn. Errors are pages that say which step failed, never a traceback."""

from __future__ import annotations

import hmac
import logging
import secrets
import time
import uuid
from datetime import UTC, datetime

import orjson
from flask import Blueprint, Flask, Request, Response, redirect, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.wrappers import Response as BaseResponse

from service.fhir.prefetch import DataUnavailable
from service.hooks.catalogue import SERVICES
from service.http.state import state
from service.knowledge import KnowledgePack
from service.protocol import HookCall
from service.smart import LaunchFailed, LaunchRefused, pkce_pair
from service.timeline import draw
from service.timeline.page import CSP, error_page

bp = Blueprint("smart", __name__, url_prefix="/smart")


class LaunchCookie(SecureCookieSessionInterface):
    """Flask's signed-cookie session, opened under /smart/ only: hook calls carry no cookie and pay nothing for one."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not request.path.startswith(bp.url_prefix or "/smart"):
            return self.make_null_session(app)
        return super().open_session(app, request)


log = logging.getLogger("aza_cds")
LAUNCH_SECONDS = 600  # from the EHR's launch to the redirect back: the sign-in may take a few minutes
LAUNCH_ISSUER = "aza-cds:smart-launch"  # the launch states' namespace in the token-id store
DATA_WORDS = {"patient": "demographics", "medicationRequests": "medication orders",
              "medicationStatements": "medication statements", "labs": "lab results", "weights": "weights",
              "genomics": "TPMT and NUDT15 results", "conditions": "conditions", "allergies": "allergies",
              "immunizations": "immunizations"}  # fmt: skip
PATIENT_VIEW = next(service for service in SERVICES.values() if service.hook == "patient-view")


@bp.get("/jwks.json")
def jwks() -> Response:
    """The public key of a confidential asymmetric client, for the EHR to register (its JWKS URL)."""
    smart = state().smart
    if smart is None or smart.client.key is None:
        return _page(404, "No key is published", "This service's SMART client authenticates without a key.")
    response = Response(orjson.dumps({"keys": [smart.client.key.jwk]}), mimetype="application/json")
    response.headers["Cache-Control"] = "max-age=3600"
    return response


@bp.get("/launch")
def launch() -> BaseResponse:
    smart = state().smart
    if smart is None:
        return _page(404, "The monitoring timeline is not set up", "This service has no AZA_CDS_SMART_CLIENT_ID.")
    launch_token = request.args.get("launch", "")
    if not launch_token:
        return _page(400, "The app was not launched by an EHR", "The launch has no 'launch' parameter.")
    try:
        iss = smart.client.check_iss(request.args.get("iss", ""))
        config = smart.client.discover(iss)
    except LaunchRefused as error:
        return _page(403, "This EHR is not allowed", str(error))
    except LaunchFailed as error:
        return _page(502, "The EHR's SMART configuration could not be read", str(error))
    verifier, challenge = pkce_pair()
    launch_state = secrets.token_urlsafe(32)
    session.clear()
    session.update(state=launch_state, verifier=verifier, iss=iss, token_url=config.token_url, at=int(time.time()))
    target = smart.client.authorize_redirect(config, iss, launch_token, smart.redirect_uri, launch_state, challenge)
    return redirect(target, 302)


@bp.get("/redirect")
def redirect_back() -> Response:
    smart = state().smart
    saved = dict(session)
    session.clear()  # one use: a reloaded or replayed redirect starts again from the EHR
    if smart is None:
        return _page(404, "The monitoring timeline is not set up", "This service has no AZA_CDS_SMART_CLIENT_ID.")
    if request.args.get("error"):
        return _page(400, "The EHR did not authorize the app", f"It answered: {request.args.get('error', '')[:100]}.")
    sent = request.args.get("state", "")
    fresh = isinstance(saved.get("at"), int) and time.time() - saved["at"] <= LAUNCH_SECONDS
    if not (
        fresh and isinstance(saved.get("state"), str) and hmac.compare_digest(saved["state"].encode(), sent.encode())
    ):
        return _page(400, "The launch cannot be completed",
                     "The sign-in does not match a launch from this browser, or it took over 10 minutes. "
                     "Open the app again from the EHR.")  # fmt: skip
    # The cookie is signed, not secret to its holder: a copy replayed within its lifetime must fail too, so each
    # launch state is used once, across workers and replicas (the store that refuses replayed JWT ids).
    if not state().storage.token_ids.first_use(LAUNCH_ISSUER, sent, saved["at"] + LAUNCH_SECONDS):
        return _page(400, "The launch cannot be completed", "This sign-in was used already. Open the app again.")
    code = request.args.get("code", "")
    if not code:
        return _page(400, "The launch cannot be completed", "The EHR sent no authorization code.")
    try:
        grant = smart.client.exchange(saved["token_url"], code, saved["verifier"], smart.redirect_uri)
    except LaunchFailed as error:
        return _page(502, "The EHR's authorization server did not give access", str(error))
    return _timeline(saved["iss"], grant.access_token, grant.patient, grant.app_context)


def _timeline(iss: str, access_token: str, patient: str, app_context: str) -> Response:
    app_state = state()
    call = HookCall(PATIENT_VIEW.id, "patient-view", str(uuid.uuid4()), {"patientId": patient}, {}, iss, access_token)
    started = time.monotonic()
    try:
        record = app_state.pipeline.record(call, datetime.now(UTC))
    except DataUnavailable as error:
        return _page(502, "The patient's data could not be read from the EHR", _why(error))
    pack = app_state.pipeline.pack
    html = draw(record, pack, app_state.settings.timeline_months, "html", _opened_from(app_context, pack))
    log.info("smart timeline patient=%s ms=%.0f", app_state.patient_hash(patient), (time.monotonic() - started) * 1000)
    return _html(200, html.decode())


def _why(error: DataUnavailable) -> str:
    """What could not be read, in a clinician's words (a hook's 412 speaks of prefetch; a SMART app has none)."""
    reason = error.reason.removeprefix("it was not prefetched and ")
    what = DATA_WORDS.get(error.key, error.key)
    return f"The EHR's FHIR server did not give the patient's {what}: {reason}. Try again, or ask the EHR team."


def _opened_from(app_context: str, pack: KnowledgePack) -> str:
    """The card that linked here, from the CDS Hooks `appContext` the EHR passed on ({"rule", "analyte"})."""
    try:
        context = orjson.loads(app_context) if app_context else None
    except orjson.JSONDecodeError:
        return ""
    if not isinstance(context, dict):
        return ""
    rule = context.get("rule")
    if not isinstance(rule, str) or rule not in {r.id for r in pack.rules}:
        return ""
    concept = pack.concepts.get(str(context.get("analyte", "")))
    analyte = pack.phrase("timeline-opened-analyte", analyte=concept.display) if concept else ""
    return pack.phrase("timeline-opened-from", rule=rule, analyte=analyte)


def _page(status: int, title: str, message: str) -> Response:
    log.info("smart launch refused status=%d reason=%s", status, title)
    return _html(status, error_page(title, message))


def _html(status: int, body: str) -> Response:
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CSP
    return response
