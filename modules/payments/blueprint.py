"""URL map of the finance pages."""

from flask import Blueprint

from modules.payments import controllers as c

bp = Blueprint("payments", __name__, template_folder="templates")
bp.add_url_rule("/payrolls", "payroll_list", c.payroll_list)
bp.add_url_rule("/payrolls/prepare", "payroll_prepare", c.payroll_prepare, methods=["POST"])
bp.add_url_rule("/payrolls/prepare-month", "payroll_prepare_month", c.payroll_prepare_month, methods=["POST"])
bp.add_url_rule("/payrolls/funds", "payroll_request_month_funds", c.payroll_request_month_funds, methods=["POST"])
bp.add_url_rule("/payrolls/<int:payroll_id>", "payroll_detail", c.payroll_detail)
bp.add_url_rule("/payrolls/<int:payroll_id>/approve", "payroll_approve", c.payroll_approve, methods=["POST"])
bp.add_url_rule("/payrolls/<int:payroll_id>/cancel", "payroll_cancel", c.payroll_cancel, methods=["POST"])
bp.add_url_rule("/payrolls/<int:payroll_id>/funds", "payroll_request_funds", c.payroll_request_funds,
                methods=["POST"])
bp.add_url_rule("/payrolls/<int:payroll_id>/send", "payroll_send", c.payroll_send, methods=["POST"])
bp.add_url_rule("/payrolls/<int:payroll_id>/statement", "payroll_fetch_statement", c.payroll_fetch_statement,
                methods=["POST"])
bp.add_url_rule("/payrolls/<int:payroll_id>/files/<file_format>", "payroll_download", c.payroll_download)

# Reconciliation: imported bank statements, their exceptions, returns to the budget.
from modules.payments import statement_controllers as sc  # noqa: E402

bp.add_url_rule("/statements", "statement_list", sc.statement_list)
bp.add_url_rule("/statements", "statement_upload", sc.statement_upload, methods=["POST"])
bp.add_url_rule("/statements/<int:import_id>", "statement_detail", sc.statement_detail)
bp.add_url_rule("/statements/exceptions", "exception_list", sc.exception_list)
bp.add_url_rule("/statements/exceptions/<int:exception_id>/resolve", "exception_resolve", sc.exception_resolve,
                methods=["POST"])
bp.add_url_rule("/payrolls/returns", "payroll_returns", sc.payroll_returns)
bp.add_url_rule("/payrolls/returns", "payroll_returns_record", sc.payroll_returns_record, methods=["POST"])
bp.add_app_template_global(sc.open_exception_count, "open_statement_exceptions")
