"""Ad hoc reports: indicators of the reporting summary chosen by the reader, broken down by up to two of its
dimensions over a range of months, filtered, shown as a table and a chart, exported, and saved to run again.

schemas.py reads what comes in, operations.py runs and saves reports, export.py writes the files, views.py is
the pages; the figures are the summary's (modules/reporting/summary.py), cut to the reader's scope (scope.py).
"""
