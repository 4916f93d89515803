"""The payments module's tables: payrolls and their lines, fund requests and bank transfers, imported statements
and their exceptions, returns to the budget, the months owed to enrolments (arrears). Import them from here
(`from modules.payments.models import Payroll`).
"""

from modules.payments.models.arrears import EnrolmentArrear
from modules.payments.models.payroll import (
    FROZEN,
    LINE_MOVES,
    LineStatus,
    PaymentLedger,
    Payroll,
    PayrollLine,
    PayrollStatus,
)
from modules.payments.models.reconciliation import ExceptionKind, StatementException, StatementImport
from modules.payments.models.transfer import (
    BankTransfer,
    BudgetReturn,
    FundRequest,
    FundRequestPayroll,
    FundRequestStatus,
    live_fund_request,
)

__all__ = [
    "FROZEN", "LINE_MOVES", "BankTransfer", "BudgetReturn", "EnrolmentArrear", "ExceptionKind", "FundRequest",
    "FundRequestPayroll", "FundRequestStatus", "LineStatus", "PaymentLedger", "Payroll", "PayrollLine", "PayrollStatus",
    "StatementException", "StatementImport", "live_fund_request",
]
