"""Benchmark: 100 citizens at once on the portal, against gunicorn and PostgreSQL on this machine: each signs in
with a PIN, the phone on file and the SMS code (read back from the outbox, as the phone would show it), opens the
status page and downloads the low-income certificate (issued and rendered on the first download). Beside it, in
the same run, the same number of clients doing as many requests on the bare health endpoint: the baseline.

    .venv/bin/python -m bench.portal                         # srsp_portalbench on 127.0.0.1, 100 citizens
    .venv/bin/python -m bench.portal --citizens 20 --workers 2

The database is emptied and migrated; each citizen gets a household with two children enrolled in the child
allowance. Every client talks from its own loopback address (127.0.0.N), as citizens on their own phones would, so
the portal's per-address limit on sign-in codes applies to each alone. Prints one JSON object; `ratio` = the
portal's p50 / the health endpoint's p50.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import create_engine, select, text

from bench import serving
from bench.database import ensure_database
from webapp import create_app
from webapp.extensions import db

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1/srsp_portalbench"
_CODE = re.compile(r"\b(\d{6})\b")


def _setup(url: str, folder: str, citizens: int) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """Empty and migrate the database; `citizens` households with two children enrolled. ([(PIN, phone)], the
    portal's paths)."""
    from flask_migrate import upgrade

    from modules.enrolment.models import Enrolment, EnrolmentStatus
    from modules.means_test.models import Assessment, Decision
    from modules.registration.models import (
        Application,
        ApplicationMember,
        ApplicationStatus,
        Channel,
        Household,
        HouseholdMember,
        Person,
        Relation,
        Sex,
    )
    from webapp.areas import load_areas
    from webapp.models import Area, AreaLevel, Programme
    from webapp.pin import make_uz
    from webapp.programmes import load_programmes

    ensure_database(url)
    app = create_app({"INSTANCE_DIR": folder, "SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None,
                      "JOBS_INLINE": True})
    people = []
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        load_areas(mahallas_per_district=1)
        load_programmes()
        mahalla = db.session.scalar(select(Area).where(Area.level == AreaLevel.mahalla, Area.code.startswith("UZ-TK"))
                                    .order_by(Area.code).limit(1))
        programme = db.session.scalar(select(Programme).where(Programme.code == "child_allowance"))
        today = date.today()
        start, end = date(today.year, today.month, 1), date(today.year + 1, today.month, 1) - timedelta(days=1)
        for number in range(citizens):
            phone = f"+99890{number + 1000000:07d}"
            head = Person(pin=make_uz(date(1985, 4, 2), "M", 1, 10_000 + number), last_name="Karimov",
                          first_name=f"Bench{number}", birth_date=date(1985, 4, 2), sex=Sex.M, phone=phone,
                          area_id=mahalla.id)
            kids = [Person(pin=make_uz(date(2015 + k, 3, 1), "F", 1, 20_000 + 2 * number + k), last_name="Karimova",
                           first_name=f"Kid{k}", birth_date=date(2015 + k, 3, 1), sex=Sex.F, area_id=mahalla.id)
                    for k in range(2)]
            household = Household(area_id=mahalla.id, address="Bench street")
            db.session.add_all([head, *kids, household])
            db.session.flush()
            db.session.add_all([HouseholdMember(household_id=household.id, person_id=head.id, relation=Relation.head)]
                               + [HouseholdMember(household_id=household.id, person_id=kid.id,
                                                  relation=Relation.child) for kid in kids])
            application = Application(household_id=household.id, applicant_id=head.id, area_id=mahalla.id,
                                      phone=phone, channel=Channel.portal, status=ApplicationStatus.decided,
                                      is_open=False, period=f"{today:%Y-%m}", submitted_at=datetime.now(UTC),
                                      programmes=[programme])
            application.members = [ApplicationMember(person_id=p.id, relation=r, is_open=False)
                                   for p, r in [(head, Relation.head)] + [(kid, Relation.child) for kid in kids]]
            db.session.add(application)
            db.session.flush()
            assessment = Assessment(application_id=application.id, household_id=household.id, kind="initial",
                                    pack_id="uz", pack_version="bench", engine="pandas", as_of=today,
                                    decision=Decision.eligible, per_capita_income=Decimal("100000"),
                                    monthly_total=Decimal("540000"), reasons=[],
                                    programmes=[{"code": "child_allowance", "monthly_amount": 540000, "months": 12}],
                                    facts={}, trace={})
            db.session.add(assessment)
            db.session.flush()
            db.session.add_all(Enrolment(application_id=application.id, assessment_id=assessment.id,
                                         household_id=household.id, programme_id=programme.id,
                                         beneficiary_person_id=kid.id, payee_person_id=head.id,
                                         monthly_amount=Decimal("270000"), months=12, period_start=start,
                                         period_end=end, status=EnrolmentStatus.active) for kid in kids)
            people.append((head.pin, phone))
        db.session.commit()
        with app.test_request_context():
            from flask import url_for

            paths = {name: url_for(f"portal.{name}") for name in ("sign_in", "sign_in_code", "home", "certificate")}
    return people, paths


def _serve(url: str, folder: str, workers: int):
    return serving.gunicorn({"DATABASE_URL": url, "SRSP_INSTANCE_DIR": folder, "REDIS_URL": "",
                             "SRSP_JOBS_INLINE": "1"}, workers)


def _code_for(engine, phone: str, after: datetime) -> str:
    for _ in range(100):
        with engine.connect() as conn:
            body = conn.execute(text("SELECT body FROM notification WHERE \"to\" = :to AND created_at >= :after "
                                     "ORDER BY id DESC LIMIT 1"), {"to": phone, "after": after}).scalar()
        if body and (found := _CODE.search(body)):
            return found.group(1)
        time.sleep(0.05)
    raise RuntimeError(f"no sign-in code for {phone}")


def _citizen(base, engine, paths, number, pin, phone, timings, lock) -> None:
    def timed(kind, call):
        started = time.perf_counter()
        response = call()
        with lock:
            timings.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        return response

    with serving.client(base, number) as client:
        page = timed("sign_in_page", lambda: client.get(paths["sign_in"]))
        asked = datetime.now(UTC) - timedelta(seconds=2)
        code_page = timed("code_request", lambda: client.post(paths["sign_in"], data={
            "csrf_token": serving.CSRF.search(page.text).group(1), "pin": pin, "phone": phone}))
        code = _code_for(engine, phone, asked)
        timed("code_entry", lambda: client.post(paths["sign_in_code"], data={
            "csrf_token": serving.CSRF.search(code_page.text).group(1), "code": code}))
        timed("status_page", lambda: client.get(paths["home"]))
        pdf = timed("certificate", lambda: client.get(paths["certificate"]))
        if not pdf.content.startswith(b"%PDF"):
            raise RuntimeError("the certificate is not a PDF")
        timed("status_page", lambda: client.get(paths["home"]))


def _health(base, number, rounds, timings, lock) -> None:
    with serving.client(base, number) as client:
        for _ in range(rounds):
            started = time.perf_counter()
            client.get("/healthz").raise_for_status()
            with lock:
                timings.setdefault("health", []).append((time.perf_counter() - started) * 1000)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--citizens", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        people, paths = _setup(args.database, folder, args.citizens)
        server, base = _serve(args.database, folder, args.workers)
        engine = create_engine(args.database.replace("postgresql://", "postgresql+psycopg://"))
        try:
            timings, lock = {}, threading.Lock()
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.citizens) as pool:
                list(pool.map(lambda item: _citizen(base, engine, paths, item[0], *item[1], timings, lock),
                              enumerate(people)))
            portal_s = time.perf_counter() - started
            portal = [value for kind, values in timings.items() for value in values]
            rounds = max(1, len(portal) // args.citizens)
            health_timings = {}
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.citizens) as pool:
                list(pool.map(lambda n: _health(base, n, rounds, health_timings, lock), range(args.citizens)))
            health_s = time.perf_counter() - started
        finally:
            serving.stop(server)
            engine.dispose()
    result = {"benchmark": "portal", "database": "postgresql", "citizens": args.citizens,
              "gunicorn_workers": args.workers,
              "portal": {"requests": len(portal), "seconds": round(portal_s, 2),
                         "requests_per_s": round(len(portal) / portal_s, 1), **serving.stats(portal)},
              "by_step": {kind: serving.stats(values) for kind, values in sorted(timings.items())},
              "health": {"requests": len(health_timings["health"]), "seconds": round(health_s, 2),
                         "requests_per_s": round(len(health_timings["health"]) / health_s, 1),
                         **serving.stats(health_timings["health"])},
              "baseline": "the same clients on GET /healthz, same run"}
    result["ratio"] = round(result["portal"]["p50_ms"] / max(result["health"]["p50_ms"], 0.1), 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
