"""Bank files for a payroll (pure library, no database): pain.001 (.03/.09) and CSV from one `Batch`.

`model` holds the batch (validated at construction), `ids` the stable ids, `text` the Latin transliteration,
`pain001` and `csvfile` the renderers, `xsd` the schema validation every pain.001 file passes before it leaves.
"""

from modules.payments.bankfiles.model import BankFileError, Batch, Debtor, Payment

__all__ = ["BankFileError", "Batch", "Debtor", "Payment"]
