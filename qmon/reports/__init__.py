"""What qmon tells people: the audit, explanations and (later) the weekly report."""
