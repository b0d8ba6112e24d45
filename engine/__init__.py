"""The trading domain: lifecycle, approvals, risk, kill switch, reconciliation, audit."""
