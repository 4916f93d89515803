"""Words that templates translate from data (`_(status.value)`): marked here so that extraction finds them."""

from flask_babel import lazy_gettext as _l

ENUM_LABELS = [
    # application statuses
    _l("draft"), _l("submitted"), _l("collecting"), _l("collected"), _l("manual_verification"), _l("assessed"),
    _l("decided"), _l("withdrawn"),
    # relations
    _l("head"), _l("spouse"), _l("child"), _l("parent"), _l("other"),
    # channels
    _l("office"), _l("mahalla"), _l("single_window"), _l("portal"),
    # roles
    _l("admin"), _l("registrar"), _l("mahalla_worker"), _l("social_worker"), _l("finance_maker"),
    _l("finance_checker"), _l("analyst"), _l("auditor"),
    # means-test decisions
    _l("eligible"), _l("ineligible"),
    # job statuses
    _l("queued"), _l("running"), _l("finished"), _l("failed"),
    # error page titles
    _l("Bad request"), _l("Sign-in required"), _l("Not allowed"), _l("Not found"), _l("Method not allowed"),
    _l("Conflict"), _l("File too large"), _l("Error"),
    # data collection: states of a source, statuses of a pull, record words
    _l("answered"), _l("failed"), _l("pending"), _l("waiting"), _l("ok"), _l("not_found"), _l("error"),
    _l("timeout"), _l("salary"), _l("entrepreneurial"), _l("pension"), _l("benefit"), _l("unemployment_benefit"),
    _l("public_works"), _l("alimony_received"), _l("alimony_paid"), _l("property"), _l("securities"),
    _l("passenger"), _l("truck"), _l("motorcycle"), _l("residential"), _l("non_residential"), _l("student"),
    _l("military_service"), _l("detention"), _l("iron_notebook"), _l("employment_registered"),
    _l("registered_unemployed"), _l("disability"), _l("birth"), _l("death"), _l("marriage"), _l("divorce"),
    # payrolls, their lines, exclusion reasons of the pre-payroll checks, fund requests, statement exceptions
    _l("checked"), _l("approved"), _l("sent"), _l("reconciled"), _l("cancelled"), _l("included"), _l("excluded"),
    _l("paid"), _l("returned"), _l("deceased"), _l("two_households"), _l("incompatible_programmes"),
    _l("enrolment_not_active"), _l("no_bank_account"), _l("amount_mismatch"), _l("child_aged_out"),
    _l("confirmed"), _l("refused"), _l("unmatched"), _l("already_settled"), _l("unclassified"),
    # a payroll's timeline (audit actions payroll.*)
    _l("generated"), _l("approval_refused"), _l("funds_confirmed"), _l("funds_refused"), _l("funds_pending"),
    # enrolments and bank accounts
    _l("active"), _l("suspended"), _l("ended"), _l("requested"), _l("opened"), _l("card_issued"), _l("closed"),
    # the thirteen sources (connectors/catalog.py)
    _l("Ministry of Internal Affairs — population register"), _l("Ministry of Justice — civil registry (ZAGS)"),
    _l("State Tax Committee — salaries and entrepreneurial income"), _l("Pension Fund — pensions and benefits"),
    _l("Cadastre Agency — real estate"), _l("Ministry of Internal Affairs — vehicle register"),
    _l("Ministry of Internal Affairs — penitentiary system"),
    _l("Ministry of Employment — unemployment, public works, employment registration"),
    _l("Ministry of Higher Education — students"), _l("Supreme Court — alimony paid and received"),
    _l("Ministry of Health — disability register"), _l("Central Securities Depository — holdings"),
    _l("Mahalla and Family Ministry — local registers (Iron Notebook)"),
]
